"""Writing down what the timed handoff does over time (the rules:
:mod:`conversations.domain.handoff`).

- :func:`handoffs_resume_due`: write down every resume that has fallen due: the switch on, an
  audit row by the system actor (action ``ai_resume``) and a ``conversation.ai_resumed``
  webhook event, at most once each. Run by ``manage.py resume_handoffs`` (e.g. every minute
  from cron). Correctness never waits for it: readers already see the AI on, and the first
  writer that locks such a row writes the resume itself (:func:`.locking.settle`).
- :func:`handoff_extend_for_agent`: a staff/agent-side message pushes an idle handoff's end.
- :func:`conversation_ai_set`: the AI switch, timed or not (the admin, the commands).

At most once: each resume is written under the conversation's row lock after re-reading the
row, so of two workers (or a worker and a writer) racing for the same row, the second finds
nothing due and writes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import TextField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from conversations.domain import clock, handoff
from conversations.domain import metadata as rules
from conversations.domain.conditional import EntityTags
from conversations.domain.durations import format_until
from conversations.models import Conversation, MetadataChange
from conversations.services.actors import SYSTEM, Actor
from conversations.services.locking import Scope, check_precondition, locked, settle, store

#: Rows a single :func:`handoffs_resume_due` call settles at most (the command loops).
RESUME_BATCH = 500


def handoffs_due(now: datetime | None = None):
    """A queryset of conversations whose timed handoff has ended by ``now`` (default: the
    clock's now) and whose resume is not written down yet.

    ``ai_disabled_until`` is stored as fixed-width UTC text (``…T05:00:00Z``), so comparing it
    as text compares the times, on PostgreSQL and SQLite alike.
    """
    moment = format_until(now or clock.now())
    return handoff_until_alias(Conversation.objects.filter(ai_disabled=True)).filter(
        handoff_until__lte=moment
    )


def handoff_until_alias(queryset):
    """``queryset`` with ``handoff_until``: the stored ``ai_disabled_until`` as text (``NULL``
    when absent), for comparisons with :func:`conversations.domain.durations.format_until` values.
    Fixed-width digits with the same separators in the same places sort in time order under
    any collation."""
    key = KT(f"metadata__{rules.AI_DISABLED_UNTIL_KEY}")
    return queryset.alias(handoff_until=Cast(key, output_field=TextField()))


def handoffs_resume_due(*, limit: int = RESUME_BATCH) -> list[MetadataChange]:
    """Write down up to ``limit`` due resumes, each in its own transaction under its row lock.

    Returns the audit rows written (fewer than the candidates when another worker or a
    writer got to a row first; they wrote it then).
    """
    written = []
    for pk in handoffs_due().order_by("pk").values_list("pk", flat=True)[:limit]:
        with transaction.atomic():
            try:
                row = locked(pk)
            except Conversation.DoesNotExist:
                continue  # deleted meanwhile
            change = settle(row)
        if change is not None:
            written.append(change)
    return written


def handoff_extend_for_agent(conversation: Conversation) -> None:
    """Push the end of an idle handoff after a staff/agent-side message (inside the caller's
    transaction, the row already locked; ``conversation.metadata`` as read under the lock).
    Audited as the system actor (action ``ai_switch``); nothing happens without an idle
    handoff in force."""
    if handoff.extended_for_agent(conversation.metadata, clock.now()) is None:
        return
    row = locked(conversation)
    new = handoff.extended_for_agent(row.metadata, clock.now())
    if new is not None:
        store(row, new, actor=SYSTEM, action=MetadataChange.Action.AI_SWITCH)


@transaction.atomic
def conversation_ai_set(
    *,
    conversation: Conversation | Any,
    disabled: bool,
    actor: Actor,
    scope: Scope = None,
    until: datetime | None = None,
    duration: timedelta | None = None,
    idle: timedelta | None = None,
    reason: str = "",
    if_match: EntityTags | None = None,
) -> tuple[Conversation, bool]:
    """Flip the AI switch: set ``metadata["ai_disabled"]`` to ``"true"`` or ``"false"``.

    Switching off may be timed (:mod:`conversations.domain.handoff`): ``until`` (an aware datetime)
    or ``duration`` (from now) ends it by itself, ``idle`` ends it once the staff/agent side
    has been silent that long; ``reason`` says why. Without them the AI stays off until
    turned on. A no-op (nothing written, nothing audited) when the switch is already in that
    state with the same handoff. A resume that fell due is written down first. Returns
    ``(conversation, changed)``.

    Raises:
        MetadataError: turning AI off would pass 16 pairs, or a handoff value breaks a rule.
        PreconditionFailed: ``if_match`` does not name the current state; nothing is written.
        Conversation.DoesNotExist: the conversation is gone or outside ``scope``.
    """
    row = check_precondition(locked(conversation, scope), if_match)
    settle(row)
    now = clock.now()
    if not disabled:
        if not row.ai_disabled:
            return row, False
        new = handoff.resumed(row.metadata)
    else:
        if duration is not None:
            until = now + duration
        if until is not None and until <= now:
            raise rules.MetadataError(
                f"The AI cannot be switched off until {until.isoformat()}: that is not later "
                "than now.",
                code="invalid_ai_disabled_until",
                key=rules.AI_DISABLED_UNTIL_KEY,
                value=until.isoformat(),
            )
        new = handoff.switched_off(
            row.metadata,
            now=now,
            until_at=until,
            idle_for=idle,
            reason=reason,
        )
    change = store(row, new, actor=actor, action=MetadataChange.Action.AI_SWITCH)
    return row, change is not None
