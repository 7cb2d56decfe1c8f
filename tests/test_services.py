"""The service layer: writes, the AI switch, the audit trail and concurrent writers."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from conversations.domain.limits import message_size
from conversations.domain.metadata import MetadataError
from conversations.models import Conversation, Message, MetadataChange
from conversations.services import (
    Actor,
    AIDisabled,
    DuplicateItemId,
    MessageInput,
    MessageInvalid,
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
    conversation_ai_reply,
    conversation_ai_set,
    conversation_create,
    conversation_metadata_merge,
    conversation_metadata_replace,
    messages_check,
    messages_create,
    project_get_or_create,
)

CMD = Actor.for_command("tests")


def run_in_threads(count, target):
    """Start ``count`` threads at once on ``target(index)``; return their results or errors."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def worker(index):
        try:
            barrier.wait()
            results[index] = target(index)
        except Exception as exc:  # noqa: BLE001 - the test inspects every outcome
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_create_validates_and_audits(project):
    conversation = conversation_create(project=project, metadata={"ai_disabled": True}, actor=CMD)
    assert conversation.metadata == {"ai_disabled": "true"}
    assert conversation.ai_disabled is True
    change = MetadataChange.objects.get(conversation=conversation)
    assert (change.action, change.actor_type, change.after) == (
        "create",
        "command",
        {"ai_disabled": "true"},
    )


def test_invalid_create_writes_nothing(project):
    with pytest.raises(MetadataError):
        conversation_create(
            project=project,
            metadata={"k" * 65: "v"},
            actor=CMD,
            messages=[MessageInput(role="user", content="hi")],
        )
    assert Conversation.objects.count() == 0


def test_merge_removes_null_keys_and_keeps_the_rest(project):
    conversation = conversation_create(project=project, metadata={"a": "1", "b": "2"}, actor=CMD)
    conversation = conversation_metadata_merge(
        conversation=conversation, patch={"b": None, "c": "3"}, actor=CMD
    )
    assert conversation.metadata == {"a": "1", "c": "3"}
    assert Conversation.objects.get(pk=conversation.pk).metadata == {"a": "1", "c": "3"}


def test_merge_past_sixteen_pairs_changes_nothing(project):
    full = {f"k{i}": "v" for i in range(16)}
    conversation = conversation_create(project=project, metadata=full, actor=CMD)
    with pytest.raises(MetadataError) as info:
        conversation_metadata_merge(conversation=conversation, patch={"k99": "v"}, actor=CMD)
    assert info.value.params["count"] == 17
    assert Conversation.objects.get(pk=conversation.pk).metadata == full


def test_ai_switch_is_audited_once_and_idempotent(project):
    user = get_user_model().objects.create_user("alice", is_staff=True)
    conversation = conversation_create(project=project, actor=CMD)
    _, changed = conversation_ai_set(
        conversation=conversation, disabled=True, actor=Actor.for_staff(user)
    )
    _, changed_again = conversation_ai_set(
        conversation=conversation, disabled=True, actor=Actor.for_staff(user)
    )
    assert (changed, changed_again) == (True, False)
    conversation.refresh_from_db()
    assert conversation.ai_disabled and conversation.metadata == {"ai_disabled": "true"}
    changes = list(MetadataChange.objects.filter(conversation=conversation))
    assert len(changes) == 1
    assert (changes[0].user, changes[0].source, changes[0].action) == (user, "admin", "ai_switch")


def test_replace_with_none_clears_to_null(project):
    conversation = conversation_create(project=project, metadata={"a": "1"}, actor=CMD)
    conversation = conversation_metadata_replace(
        conversation=conversation, metadata=None, actor=CMD
    )
    assert Conversation.objects.get(pk=conversation.pk).metadata is None
    assert MetadataChange.objects.filter(action="clear").count() == 1


def test_messages_bump_activity_count_and_preview(project):
    conversation = conversation_create(project=project, actor=CMD)
    before = conversation.last_message_at
    rows = messages_create(
        conversation=conversation,
        messages=[
            MessageInput(role="user", content="hello"),
            MessageInput(role="assistant", content="hi"),
        ],
    )
    conversation.refresh_from_db()
    assert [r.direction for r in rows] == ["inbound", "outbound"]
    assert conversation.message_count == 2
    assert conversation.last_message_preview == "hi"
    assert conversation.last_message_at >= before


def test_api_keys_are_hashed_and_revocable(project):
    api_key, raw = api_key_create(project=project)
    assert raw not in api_key.key_hash and raw.startswith(api_key.prefix)
    assert api_key_authenticate(raw) == api_key
    assert api_key_authenticate(raw + "x") is None
    assert api_key_revoke(api_key=api_key) is True
    assert api_key_authenticate(raw) is None


@pytest.mark.django_db(transaction=True)
def test_merge_keeps_keys_written_concurrently(project):
    conversation = conversation_create(project=project, actor=CMD)
    results = run_in_threads(
        16,
        lambda i: conversation_metadata_merge(
            conversation=conversation.pk, patch={f"key{i}": str(i)}, actor=CMD
        ),
    )
    assert not [r for r in results if isinstance(r, Exception)]
    stored = Conversation.objects.get(pk=conversation.pk).metadata
    assert stored == {f"key{i}": str(i) for i in range(16)}
    assert MetadataChange.objects.filter(conversation=conversation, action="merge").count() == 16


@pytest.mark.django_db(transaction=True)
def test_concurrent_merges_never_pass_sixteen_pairs(project):
    conversation = conversation_create(
        project=project, metadata={f"old{i}": "v" for i in range(10)}, actor=CMD
    )
    results = run_in_threads(
        12,
        lambda i: conversation_metadata_merge(
            conversation=conversation.pk, patch={f"new{i}": "v"}, actor=CMD
        ),
    )
    refused = [r for r in results if isinstance(r, MetadataError)]
    assert len(refused) == 6 and all(r.code == "too_many_pairs" for r in refused)
    assert len(Conversation.objects.get(pk=conversation.pk).metadata) == 16


def test_the_core_s_message_errors_say_what_is_wrong_in_their_own_words():
    """Each format words these errors itself; the core's own text (logs, commands) names the
    message, the field, the unit and the limit."""
    assert str(MessageInvalid(field="content", index=2, code="too_long", limit=64, length=65)) == (
        "Message 2: content has 65 characters, at most 64."
    )
    assert str(MessageInvalid(field="size", index=0, code="too_large", limit=10, length=11)) == (
        "Message 0: size has 11 bytes, at most 10."
    )
    assert str(DuplicateItemId(index=1, item_id="msg_1")) == (
        "Message 1: item id 'msg_1' is already in the conversation."
    )


def test_the_ai_switch_refusal_names_its_conversation(project):
    conversation = conversation_create(project=project, actor=CMD, metadata={"ai_disabled": True})
    with pytest.raises(AIDisabled) as refused:
        conversation_ai_reply(conversation=conversation, content="hi", responder=lambda c, m: "x")
    assert refused.value.conversation == conversation
    assert str(refused.value) == f"AI responses are disabled for conversation {conversation.pk}."


def test_a_write_scoped_by_a_queryset_finds_only_the_rows_in_it(project):
    """``scope`` may be any ``Conversation`` queryset (services/conversations.py): a row
    outside it is "does not exist", exactly like an unknown id, and nothing is written."""
    conversation = conversation_create(project=project, actor=CMD, metadata={"a": "1"})
    inside = Conversation.objects.filter(project=project)
    outside = Conversation.objects.filter(project=project_get_or_create(name="other"))

    with pytest.raises(Conversation.DoesNotExist):
        conversation_metadata_merge(
            conversation=conversation.pk, patch={"b": "2"}, actor=CMD, scope=outside
        )
    with pytest.raises(Conversation.DoesNotExist):
        conversation_metadata_replace(
            conversation=conversation.pk, metadata={"c": "3"}, actor=CMD, scope=outside
        )
    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "1"}

    merged = conversation_metadata_merge(
        conversation=conversation.pk, patch={"b": "2"}, actor=CMD, scope=inside
    )
    assert merged.metadata == {"a": "1", "b": "2"}


def test_a_message_field_may_fill_its_column_but_not_pass_it():
    width = Message._meta.get_field("channel").max_length
    assert messages_check([MessageInput(role="user", content="x", channel="c" * width)])
    with pytest.raises(MessageInvalid) as refused:
        messages_check(
            [
                MessageInput(role="user", content="x"),
                MessageInput(role="user", content="y", channel="c" * (width + 1)),
            ]
        )
    error = refused.value
    assert (error.field, error.index, error.code, error.limit, error.length) == (
        "channel",
        1,
        "too_long",
        width,
        width + 1,
    )


def test_a_message_may_fill_the_size_limit_but_not_pass_it(settings):
    """``CONVSTORE_MAX_MESSAGE_BYTES`` bounds the stored size (``message_size``): a message
    of exactly that many bytes is kept, one byte more is refused, naming its place."""
    fits = MessageInput(role="user", content="x" * 100)
    settings.CONVSTORE_MAX_MESSAGE_BYTES = size = message_size(**vars(fits))
    assert messages_check([fits, fits]) == [size, size]
    with pytest.raises(MessageInvalid) as refused:
        messages_check([fits, MessageInput(role="user", content="x" * 101)])
    error = refused.value
    assert (error.field, error.index, error.code, error.limit, error.length) == (
        "size",
        1,
        "too_large",
        size,
        size + 1,
    )
    assert str(error) == f"Message 1: size has {size + 1} bytes, at most {size}."
