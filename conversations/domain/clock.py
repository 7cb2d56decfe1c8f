"""The store's clock: the one seam through which timed rules (the timed AI handoff) read "now".

:func:`now` is ``django.utils.timezone.now()`` moved by an offset that is zero in production.
Tests move time forward with :func:`advance` (and put it back with :func:`reset`) instead of
sleeping: a handoff switched off "for 15 minutes" is over once the test advances the clock
by 16 minutes, for the test process and a ``live_server`` thread alike (they share this
module). Nothing else in the code base is replaced in tests.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

_offset = timedelta(0)


def now() -> datetime:
    """The current time (aware, UTC), moved by the test offset (zero outside tests)."""
    return timezone.now() + _offset


def advance(delta: timedelta) -> None:
    """Move the clock forward by ``delta`` (tests only; adds to any earlier move)."""
    global _offset
    _offset += delta


def reset() -> None:
    """Put the clock back to real time."""
    global _offset
    _offset = timedelta(0)
