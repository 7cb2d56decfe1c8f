"""Time values the handoff keys hold: durations (``90s``, ``15m``, ``4h``, ``1d``, seconds)
and RFC 3339 date-times stored in UTC to the second. Pure parsing; what the values mean is
:mod:`conversations.domain.metadata` (the keys' rules) and :mod:`conversations.domain.handoff`
(their effect over time). Errors are ``ValueError``; the metadata rules word them as
:class:`~conversations.domain.metadata.MetadataError`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

#: ``ai_disabled_until`` as stored: UTC, whole seconds, ``Z``.
UNTIL_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

_DURATION = re.compile(r"\s*(\d{1,9})\s*([smhd]?)\s*", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: Any) -> timedelta:
    """``"90s"``, ``"15m"``, ``"4h"``, ``"1d"``, ``"900"`` or ``900`` (seconds) as a timedelta.

    Raises:
        ValueError: anything else (no sign, no fractions, no combined units).
    """
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"Expected a duration like 90s, 15m, 4h or 1d, got {text!r}.")
    return timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2].lower()])


def parse_until(value: Any) -> datetime:
    """An RFC 3339 ``date-time`` (offset required; ``Z`` or ``±hh:mm``) as an aware UTC datetime
    cut to the second.

    Raises:
        ValueError: not a string, not a date-time, or no offset.
    """
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError(f"Expected an RFC 3339 date-time, got {value!r}.")
    parsed = datetime.fromisoformat(value.strip())  # ValueError when it is not one
    if parsed.tzinfo is None:
        raise ValueError(f"The date-time {value!r} has no offset (RFC 3339 requires one).")
    return parsed.astimezone(UTC).replace(microsecond=0)


def format_until(moment: datetime) -> str:
    """An aware datetime as ``ai_disabled_until`` stores it (UTC, whole seconds, ``Z``)."""
    return moment.astimezone(UTC).strftime(UNTIL_FORMAT)
