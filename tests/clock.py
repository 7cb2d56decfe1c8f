"""Fixed rate-limit windows for tests that must not cross a window's end."""

import time


def hour_rate(count: int = 1, left: float = 600.0) -> str:
    """``"<count>/<period>s"``, a period of about an hour whose current window has at least
    ``left`` seconds to run.

    The limiter's windows are fixed and aligned to multiples of their period since the epoch
    (``conversations.http.ratelimit``), so a plain ``1/h`` ends at every full hour: a test run in
    an hour's last minute saw its second request land in a fresh window, or an SDK wait out
    a ``Retry-After`` under a minute and succeed. Periods of 3,600 s plus multiples of 700 s
    end at other moments; the first with ``left`` seconds to go is taken.
    """
    period = 3600
    while period - time.time() % period < left:
        period += 700
    return f"{count}/{period}s"
