"""Metadata writes during a handoff (docs/handoff.md): during an idle handoff only the
staff/agent side speaking, or a new idle length, moves the end of the handoff; any other
write keeps it. Runs on the locking path (SQLite) and on PostgreSQL's one-statement path
alike. And the resumes: one conversation deleted while they are written is skipped, not the
rest."""

from datetime import timedelta

import pytest

from conversations.domain import clock, events
from conversations.domain.durations import parse_until
from conversations.services import (
    Actor,
    conversation_ai_set,
    conversation_create,
    conversation_delete,
    conversation_metadata_merge,
    conversation_metadata_replace,
    handoffs_resume_due,
)
from tests.handoffs import switched_off

STAFF = Actor.for_command("tests")


pytestmark = pytest.mark.usefixtures("real_time")  # tests/conftest.py


@pytest.fixture
def idle_handoff(project):
    """A conversation whose AI went off 5 minutes ago until the humans are quiet for 10."""
    conversation, _ = conversation_ai_set(
        conversation=conversation_create(project=project, actor=STAFF, metadata={"k": "v"}),
        disabled=True,
        actor=STAFF,
        idle=timedelta(minutes=10),
    )
    clock.advance(timedelta(minutes=5))
    return conversation


def test_a_merge_of_other_keys_keeps_the_idle_handoff_s_end(idle_handoff):
    end = idle_handoff.metadata["ai_disabled_until"]
    merged = conversation_metadata_merge(conversation=idle_handoff, patch={"x": "y"}, actor=STAFF)
    assert merged.metadata["ai_disabled_until"] == end
    assert merged.metadata["x"] == "y" and merged.ai_disabled


def test_a_replace_that_keeps_the_handoff_keys_keeps_its_end(idle_handoff):
    stored = dict(idle_handoff.metadata)
    replaced = conversation_metadata_replace(
        conversation=idle_handoff, metadata={**stored, "k": "w"}, actor=STAFF
    )
    assert replaced.metadata == {**stored, "k": "w"}


def test_a_new_idle_length_moves_the_end_from_now(idle_handoff):
    end = parse_until(idle_handoff.metadata["ai_disabled_until"])
    merged = conversation_metadata_merge(
        conversation=idle_handoff, patch={"ai_disabled_idle": "20m"}, actor=STAFF
    )
    assert parse_until(merged.metadata["ai_disabled_until"]) - end >= timedelta(minutes=14)


def test_a_conversation_deleted_while_resumes_are_written_is_skipped_not_the_rest(project):
    """The due conversations are selected first, then each is locked in turn: one deleted in
    between (here by a receiver of the first resume) is passed over, and the resumes after it
    are still written."""
    due = switched_off(project, count=3, minutes=5)
    first, gone, last = sorted(due, key=lambda conversation: conversation.pk)  # their order
    clock.advance(timedelta(minutes=5))

    def delete_gone(conversation, **kwargs):
        if conversation.pk == first.pk:
            conversation_delete(conversation=gone.pk)

    events.ai_resumed.connect(delete_gone)
    try:
        written = handoffs_resume_due()
    finally:
        events.ai_resumed.disconnect(delete_gone)
    assert [change.conversation_id for change in written] == [first.pk, last.pk]
