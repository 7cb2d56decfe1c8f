"""Entity tags below HTTP: the services check If-Match under the lock, header parsing is
bounded and strict, the admin's stale-page guard, and the 412 message."""

import pytest

from conversations.domain.conditional import EntityTags, PreconditionFailed, etag
from conversations.models import Conversation
from conversations.services import (
    MessageInput,
    conversation_delete,
    conversation_metadata_merge,
    messages_create,
)
from tests.conditional.helpers import CMD


def test_services_check_if_match_under_the_lock(make_conversation):
    conversation = make_conversation({"a": "1"})
    stale = EntityTags.parse(etag(conversation))
    messages_create(conversation=conversation, messages=[MessageInput(role="user", content="x")])
    with pytest.raises(PreconditionFailed) as info:
        conversation_metadata_merge(
            conversation=conversation.pk, patch={"a": "2"}, actor=CMD, if_match=stale
        )
    assert info.value.current == etag(Conversation.objects.get())
    with pytest.raises(PreconditionFailed):
        conversation_delete(conversation=conversation, if_match=stale)
    assert Conversation.objects.get().metadata == {"a": "1"}
    conversation_delete(conversation=conversation, if_match=EntityTags.parse("*"))
    assert not Conversation.objects.exists()


def test_entity_tag_parsing_is_bounded_and_strict():
    assert EntityTags.parse(None) is None
    assert EntityTags.parse(" * ").any
    tags = EntityTags.parse('"a", W/"b" ,"c"')
    assert tags.strong == {'"a"', '"c"'} and tags.weak == {'"b"'}
    assert EntityTags.parse('"a", b') == EntityTags()
    assert EntityTags.parse('"' + "a" * 5000 + '"') == EntityTags()


def test_the_stale_page_guard_names_exactly_one_version(make_conversation):
    """``EntityTags.for_version`` (the admin's guard): matches the conversation at that version
    and no other state of it."""
    conversation = make_conversation({"a": "1"})
    guard = EntityTags.for_version(conversation.id, conversation.version)
    assert guard.matches_strongly(conversation) and not guard.any
    conversation_metadata_merge(conversation=conversation, patch={"b": "2"}, actor=CMD)
    conversation.refresh_from_db()
    assert not guard.matches_strongly(conversation)
    with pytest.raises(PreconditionFailed):
        conversation_metadata_merge(
            conversation=conversation, patch={"c": "3"}, actor=CMD, if_match=guard
        )


def test_precondition_failed_says_what_to_do(make_conversation):
    conversation = make_conversation()
    error = PreconditionFailed(conversation)
    assert str(error) == (
        f"The conversation has changed: its current ETag is {etag(conversation)}, which "
        "If-Match does not name. Nothing was written: read the conversation again and retry "
        "with its new ETag."
    )


def test_a_header_at_the_length_limit_is_still_read(make_conversation):
    conversation = make_conversation()
    tag = etag(conversation)
    value = " " * (4096 - len(tag)) + tag
    assert len(value) == 4096 and EntityTags.parse(value).matches_strongly(conversation)
    assert not EntityTags.parse(" " + value).matches_strongly(conversation)
