"""The timed AI handoff: what the handoff keys of the metadata mean at a given moment.

A person takes a conversation over by switching the AI off (``ai_disabled: "true"``). Beside
it, these reserved keys (normalised by :mod:`conversations.domain.metadata`) describe the handoff
and live only while the switch is off:

- ``ai_disabled_until``: when the AI comes back by itself (UTC, ``2026-12-07T05:00:00Z``);
  absent, the AI stays off until someone turns it on;
- ``ai_disabled_idle``: seconds; the AI comes back once the staff/agent side has been silent
  that long. Switching off with it sets ``ai_disabled_until`` to now + idle, and every later
  staff/agent-side message (an ``outbound`` message with role ``assistant`` or none) pushes
  ``ai_disabled_until`` to its time + idle, so ``ai_disabled_until`` alone always says when
  the AI comes back;
- ``ai_disabled_reason``: why (free text). Who switched off is the audit trail's actor of
  that change (``selectors.handoff_taken_by``), so existing wire metadata stays as it was.

At a moment ``now`` (:func:`conversations.domain.clock.now`) a stored ``"true"`` is

- **off** when there is no ``ai_disabled_until`` or it is later than ``now``;
- **due** otherwise: the AI is on again. Every reader sees the *effective* metadata
  (:func:`effective`: ``ai_disabled`` ``"false"`` and no handoff keys), so no background
  process is needed for correctness. The resume is written down (an audit row by the system
  actor and a ``conversation.ai_resumed`` webhook event) by the first writer that locks the
  row afterwards, or by ``manage.py resume_handoffs`` (:mod:`conversations.services.handoff`).

Pure functions: the services apply them under the conversation's row lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from conversations.domain import clock
from conversations.domain import metadata as rules
from conversations.domain.durations import format_until, parse_until
from conversations.domain.metadata import (
    AI_DISABLED_IDLE_KEY,
    AI_DISABLED_KEY,
    AI_DISABLED_REASON_KEY,
    AI_DISABLED_UNTIL_KEY,
    HANDOFF_KEYS,
    Metadata,
)

#: The roles whose ``outbound`` messages count as the staff/agent side speaking.
AGENT_SIDE_ROLES = frozenset({"assistant", ""})


def until(metadata: Mapping[str, str] | None) -> datetime | None:
    """The stored ``ai_disabled_until`` as an aware datetime, or ``None`` when there is none
    (or the switch is not off: the key means nothing then)."""
    if not rules.is_ai_disabled(metadata) or AI_DISABLED_UNTIL_KEY not in metadata:
        return None
    return parse_until(metadata[AI_DISABLED_UNTIL_KEY])


def idle(metadata: Mapping[str, str] | None) -> timedelta | None:
    """The stored ``ai_disabled_idle`` while the switch is off, else ``None``."""
    if not rules.is_ai_disabled(metadata) or AI_DISABLED_IDLE_KEY not in metadata:
        return None
    return timedelta(seconds=int(metadata[AI_DISABLED_IDLE_KEY]))


def resume_due(metadata: Mapping[str, str] | None, now: datetime) -> bool:
    """Whether a timed handoff has ended by ``now`` but the resume is not written down yet."""
    end = until(metadata)
    return end is not None and end <= now


def ai_off(metadata: Mapping[str, str] | None, now: datetime) -> bool:
    """Whether AI replies are off at ``now``: the switch is off and no until-time has passed."""
    return rules.is_ai_disabled(metadata) and not resume_due(metadata, now)


def resumed(metadata: Mapping[str, str] | None) -> Metadata:
    """A copy with the switch on (``"false"``) and the handoff keys removed."""
    result = {k: v for k, v in (metadata or {}).items() if k not in HANDOFF_KEYS}
    result[AI_DISABLED_KEY] = rules.AI_DISABLED_FALSE
    return result


def effective(metadata: Mapping[str, str] | None, now: datetime) -> Metadata | None:
    """The metadata as every reader shows it at ``now``: :func:`resumed` once a handoff is
    due, else the stored object itself (``None`` stays ``None``)."""
    return resumed(metadata) if resume_due(metadata, now) else metadata


def switched_off(
    metadata: Mapping[str, str] | None,
    *,
    now: datetime,
    until_at: datetime | None = None,
    idle_for: timedelta | None = None,
    reason: str = "",
) -> Metadata:
    """A copy with the AI switched off at ``now``: until ``until_at`` (else until
    turned on), or until the agent side has been silent ``idle_for``; ``reason`` optional.

    Raises:
        MetadataError: a value breaks a rule (e.g. ``idle_for`` over seven days, a reason over
        512 characters) or the result would hold more than 16 pairs.
    """
    result = {k: v for k, v in (metadata or {}).items() if k not in HANDOFF_KEYS}
    result[AI_DISABLED_KEY] = rules.AI_DISABLED_TRUE
    if until_at is not None:
        result[AI_DISABLED_UNTIL_KEY] = format_until(until_at)
    if idle_for is not None:
        result[AI_DISABLED_IDLE_KEY] = str(int(idle_for.total_seconds()))
    if reason:
        result[AI_DISABLED_REASON_KEY] = reason
    # A new handoff, whatever was stored: finish sees a switch-off (the end is at least now + idle).
    return finish(None, rules.validate_metadata(result), now=now)


def finish(
    stored: Mapping[str, str] | None, new: Metadata | None, *, now: datetime
) -> Metadata | None:
    """Apply the handoff rules to a validated write of ``new`` over ``stored``.

    - switch on (or no switch): the handoff keys go;
    - an ``ai_disabled_until`` not later than ``now``: the switch is on at once (as
      :func:`resumed`), so a write never leaves a resume due behind it;
    - ``ai_disabled_idle`` set on a switch-off (off in ``new``, not off at ``now`` in
      ``stored``) or changed: ``ai_disabled_until`` becomes at least now + idle;
    - ``ai_disabled_idle`` without ``ai_disabled_until`` (a switch-off that replaces the
      handoff, a replace that leaves the end out): the end is now + idle, so an idle
      handoff always has an end.

    Raises:
        MetadataError: ``too_many_pairs`` when the added keys pass 16 pairs.
    """
    if new is None:
        return None
    if not rules.is_ai_disabled(new):
        if not any(key in new for key in HANDOFF_KEYS):
            return new
        return {k: v for k, v in new.items() if k not in HANDOFF_KEYS}
    if resume_due(new, now):
        return resumed(new)
    result = dict(new)
    switching_off = not ai_off(stored, now)
    pause = idle(result)
    if pause is not None and (switching_off or idle(stored) != pause or until(result) is None):
        result = _pushed(result, now + pause) or result
    rules.merge({}, result)  # the 16-pair check on the result
    return result


def _pushed(metadata: Metadata, end: datetime) -> Metadata | None:
    current = until(metadata)
    if current is not None and current >= end.replace(microsecond=0):
        return None
    return {**metadata, AI_DISABLED_UNTIL_KEY: format_until(end)}


def extended_for_agent(metadata: Mapping[str, str] | None, now: datetime) -> Metadata | None:
    """After a staff/agent-side message at ``now``: the metadata with ``ai_disabled_until``
    pushed to now + idle, or ``None`` when nothing changes (no idle handoff off at ``now``)."""
    pause = idle(metadata)
    if pause is None or not ai_off(metadata, now):
        return None
    return _pushed(dict(metadata), now + pause)


def is_agent_side(*, role: str, direction: str) -> bool:
    """Whether a stored message is the staff/agent side speaking (see module)."""
    return direction == "outbound" and role in AGENT_SIDE_ROLES


def effective_metadata(conversation) -> Metadata | None:
    """A conversation's metadata as every reader shows it now (:func:`effective` at
    :func:`conversations.domain.clock.now`): the formats' serializers, the admin, the exports."""
    return effective(conversation.metadata, clock.now())
