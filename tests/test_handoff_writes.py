"""Metadata writes during a handoff (docs/handoff.md): during an idle handoff only the
staff/agent side speaking, or a new idle length, moves the end of the handoff; any other
write keeps it. Runs on the locking path (SQLite) and on PostgreSQL's one-statement path
alike. A write on a conversation whose timed handoff has ended writes the resume down first,
and still checks its ``If-Match``. And the resumes: one conversation deleted while they are
written is skipped, not the rest."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F

from conversations.domain import clock, events
from conversations.domain.conditional import EntityTags, PreconditionFailed, etag
from conversations.domain.durations import parse_until
from conversations.models import Conversation, MetadataChange
from conversations.services import (
    conversation_ai_set,
    conversation_create,
    conversation_delete,
    conversation_metadata_merge,
    conversation_metadata_replace,
    handoffs_resume_due,
)
from tests.handoffs import STAFF, switched_off
from tests.interleave import after_first_statement
from tests.skips import needs_postgresql

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


@pytest.mark.parametrize("write", ["merge", "replace"])
def test_a_write_after_the_handoff_ended_writes_the_resume_down_first(project, write):
    (conversation,) = switched_off(project, minutes=5)
    clock.advance(timedelta(minutes=5))
    if write == "merge":
        conversation_metadata_merge(conversation=conversation, patch={"x": "y"}, actor=STAFF)
    else:
        conversation_metadata_replace(conversation=conversation, metadata={"x": "y"}, actor=STAFF)
    actions = MetadataChange.objects.filter(conversation=conversation).order_by("id")
    assert list(actions.values_list("action", flat=True)) == ["ai_switch", "ai_resume", write]
    assert Conversation.objects.get().metadata == {"x": "y"} | (
        {"ai_disabled": "false"} if write == "merge" else {}
    )


def test_a_stale_if_match_is_refused_after_the_handoff_ended(project):
    (conversation,) = switched_off(project, minutes=5)
    stale = EntityTags.parse(etag(conversation))
    conversation_metadata_merge(conversation=conversation, patch={"k": "v"}, actor=STAFF)
    clock.advance(timedelta(minutes=5))
    before = Conversation.objects.get().metadata
    for write in (
        lambda: conversation_metadata_merge(
            conversation=conversation, patch={"x": "y"}, actor=STAFF, if_match=stale
        ),
        lambda: conversation_metadata_replace(
            conversation=conversation, metadata={"x": "y"}, actor=STAFF, if_match=stale
        ),
    ):
        with pytest.raises(PreconditionFailed):
            write()
    assert Conversation.objects.get().metadata == before


@pytest.mark.parametrize(("metadata", "action"), [({"a": "1"}, "replace"), ({}, "clear")])
def test_a_replace_is_audited_as_replace_and_an_empty_one_as_clear(project, metadata, action):
    conversation = conversation_create(project=project, actor=STAFF, metadata={"k": "v"})
    conversation_metadata_replace(conversation=conversation, metadata=metadata, actor=STAFF)
    change = MetadataChange.objects.filter(conversation=conversation).latest("id")
    assert (change.action, change.after) == (action, metadata)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason=needs_postgresql("the unlocked read comes first")
)
@pytest.mark.parametrize("write", ["merge", "replace"])
def test_an_if_match_that_held_on_the_unlocked_read_is_checked_again_under_the_lock(project, write):
    """PostgreSQL's writes check ``If-Match`` on an unlocked read first; a row whose handoff
    has ended then goes to the locking path. Another writer that commits between the two
    (here through Django's ``execute_wrapper``, right after the read) makes the tag stale:
    the locking path checks it again and refuses the write."""
    (conversation,) = switched_off(project, minutes=5)
    clock.advance(timedelta(minutes=5))
    tag = EntityTags.parse(etag(conversation))

    def another_writer():
        Conversation.objects.filter(pk=conversation.pk).update(version=F("version") + 1)

    with after_first_statement(
        lambda sql: sql.startswith("SELECT") and " FOR UPDATE" not in sql, another_writer
    ) as read:
        with pytest.raises(PreconditionFailed):
            if write == "merge":
                conversation_metadata_merge(
                    conversation=conversation, patch={"x": "y"}, actor=STAFF, if_match=tag
                )
            else:
                conversation_metadata_replace(
                    conversation=conversation, metadata={"x": "y"}, actor=STAFF, if_match=tag
                )
    assert read, "the unlocked read was seen"
    assert "x" not in Conversation.objects.get().metadata
