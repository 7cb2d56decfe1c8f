"""The OpenAI format, driven by the official ``openai`` SDK against a live server."""

import threading
from http import HTTPStatus

import openai
import pytest

from conversations.models import Conversation, Message, MetadataChange


def test_create_with_items_and_metadata_then_retrieve(openai_client):
    conv = openai_client.conversations.create(
        metadata={"topic": "demo", "ai_disabled": True},
        items=[
            {"role": "user", "content": "Hello!"},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Hi there", "annotations": []}],
            },
        ],
    )
    assert conv.object == "conversation"
    assert conv.metadata == {"topic": "demo", "ai_disabled": "true"}
    assert isinstance(conv.created_at, int)
    assert conv._request_id.startswith("req_")
    fetched = openai_client.conversations.retrieve(conv.id)
    assert (fetched.id, fetched.created_at, fetched.metadata) == (
        conv.id,
        conv.created_at,
        conv.metadata,
    )
    items = list(openai_client.conversations.items.list(conv.id, order="asc"))
    assert [(i.role, i.content[0].type, i.content[0].text) for i in items] == [
        ("user", "input_text", "Hello!"),
        ("assistant", "output_text", "Hi there"),
    ]


def test_create_with_no_arguments_has_empty_metadata(openai_client):
    conv = openai_client.conversations.create()
    assert conv.metadata == {}


def test_update_merges_removes_null_keys_and_clears(openai_client):
    conv = openai_client.conversations.create(metadata={"a": "1", "b": "2"})
    updated = openai_client.conversations.update(conv.id, metadata={"b": None, "c": "3"})
    assert updated.metadata == {"a": "1", "c": "3"}
    assert openai_client.conversations.retrieve(conv.id).metadata == {"a": "1", "c": "3"}
    cleared = openai_client.conversations.update(conv.id, metadata=None)
    assert cleared.metadata == {}
    audit = MetadataChange.objects.filter(conversation_id=Conversation.objects.get().pk)
    assert [c.action for c in audit.order_by("id")] == ["create", "merge", "clear"]
    assert {c.source for c in audit} == {"openai"}


def test_delete_answers_deleted_resource_and_then_not_found(openai_client):
    conv = openai_client.conversations.create()
    deleted = openai_client.conversations.delete(conv.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (conv.id, "conversation.deleted", True)
    with pytest.raises(openai.NotFoundError) as info:
        openai_client.conversations.retrieve(conv.id)
    assert info.value.message.endswith(f"Conversation with id '{conv.id}' not found.") or (
        f"Conversation with id '{conv.id}' not found." in str(info.value)
    )
    with pytest.raises(openai.NotFoundError):
        openai_client.conversations.delete(conv.id)


def test_items_create_retrieve_delete(openai_client):
    conv = openai_client.conversations.create()
    created = openai_client.conversations.items.create(
        conv.id,
        items=[
            {"role": "user", "content": "one"},
            {"type": "function_call_output", "call_id": "call_1", "output": "42"},
        ],
        include=["message.input_image.image_url"],
    )
    assert [i.type for i in created.data] == ["message", "function_call_output"]
    assert created.first_id == created.data[0].id and created.last_id == created.data[1].id
    assert created.has_more is False
    item = openai_client.conversations.items.retrieve(created.data[0].id, conversation_id=conv.id)
    assert (item.id, item.role, item.status) == (created.data[0].id, "user", "completed")
    tool_output = openai_client.conversations.items.retrieve(
        created.data[1].id, conversation_id=conv.id
    )
    assert (tool_output.call_id, tool_output.output) == ("call_1", "42")
    parent = openai_client.conversations.items.delete(created.data[0].id, conversation_id=conv.id)
    assert parent.id == conv.id and parent.object == "conversation"
    with pytest.raises(openai.NotFoundError):
        openai_client.conversations.items.retrieve(created.data[0].id, conversation_id=conv.id)
    assert Conversation.objects.get().message_count == 1


def test_items_list_pages_with_cursor_in_both_orders(openai_client):
    conv = openai_client.conversations.create()
    texts = [f"m{i}" for i in range(7)]
    openai_client.conversations.items.create(
        conv.id, items=[{"role": "user", "content": t} for t in texts]
    )
    first = openai_client.conversations.items.list(conv.id, limit=3, order="asc")
    assert [i.content[0].text for i in first.data] == texts[:3]
    assert first.has_more is True and first.last_id == first.data[-1].id
    every_asc = [
        i.content[0].text
        for i in openai_client.conversations.items.list(conv.id, limit=3, order="asc")
    ]
    assert every_asc == texts
    every_desc = [
        i.content[0].text for i in openai_client.conversations.items.list(conv.id, limit=2)
    ]
    assert every_desc == texts[::-1]
    last = openai_client.conversations.items.list(
        conv.id, limit=100, after=first.data[-1].id, order="asc"
    )
    assert [i.content[0].text for i in last.data] == texts[3:] and last.has_more is False


@pytest.mark.parametrize(
    ("limit", "code"), [(0, "integer_below_min_value"), (101, "integer_above_max_value")]
)
def test_items_list_limit_out_of_range(openai_client, limit, code):
    conv = openai_client.conversations.create()
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.conversations.items.list(conv.id, limit=limit)
    assert (info.value.code, info.value.param) == (code, "limit")


def test_more_than_twenty_items_are_refused_and_nothing_is_stored(openai_client):
    conv = openai_client.conversations.create()
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.conversations.items.create(
            conv.id, items=[{"role": "user", "content": str(i)} for i in range(21)]
        )
    assert (info.value.code, info.value.param) == ("array_above_max_length", "items")
    assert Message.objects.count() == 0


def test_invalid_item_role_is_refused(openai_client):
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.conversations.create(items=[{"role": "robot", "content": "x"}])
    assert (info.value.code, info.value.param) == ("invalid_value", "items[0].role")
    assert Conversation.objects.count() == 0


METADATA_VIOLATIONS = [
    (
        {f"k{i}": "v" for i in range(17)},
        "object_above_max_properties",
        "metadata",
        "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, "
        "but got an object with 17 properties instead.",
    ),
    (
        {"k" * 70: "v"},
        "property_name_above_max_length",
        "metadata." + "k" * 70,
        f"Invalid property name in 'metadata': '{'k' * 70}' is too long. Expected a string with "
        "maximum length 64, but got a string with length 70 instead.",
    ),
    (
        {"note": "x" * 600},
        "string_above_max_length",
        "metadata.note",
        "Invalid 'metadata.note': string too long. Expected a string with maximum length 512, but "
        "got a string with length 600 instead.",
    ),
    (
        {"count": 3},
        "invalid_type",
        "metadata.count",
        "Invalid type for 'metadata.count': expected a string, but got an integer instead.",
    ),
    (
        {"tags": ["a"]},
        "invalid_type",
        "metadata.tags",
        "Invalid type for 'metadata.tags': expected a string, but got an array instead.",
    ),
    (
        "text",
        "invalid_type",
        "metadata",
        "Invalid type for 'metadata': expected a metadata object, but got a string instead.",
    ),
    ({"ai_disabled": "maybe"}, "invalid_value", "metadata.ai_disabled", None),
    ({"": "v"}, "invalid_value", "metadata", None),
    ({"k": "a\x00b"}, "invalid_value", "metadata.k", None),
]


@pytest.mark.parametrize(("metadata", "code", "param", "message"), METADATA_VIOLATIONS)
def test_metadata_violations_on_create(openai_client, metadata, code, param, message):
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.conversations.create(metadata=metadata)
    assert (info.value.code, info.value.param, info.value.type) == (
        code,
        param,
        "invalid_request_error",
    )
    if message:
        assert info.value.body["message"] == message
    assert Conversation.objects.count() == 0


@pytest.mark.parametrize(("metadata", "code", "param", "message"), METADATA_VIOLATIONS)
def test_metadata_violations_on_update_change_nothing(
    openai_client, metadata, code, param, message
):
    conv = openai_client.conversations.create(metadata={"keep": "me"})
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.conversations.update(conv.id, metadata=metadata)
    assert (info.value.code, info.value.param) == (code, param)
    assert openai_client.conversations.retrieve(conv.id).metadata == {"keep": "me"}


def test_merged_result_over_sixteen_pairs_is_refused(openai_client):
    conv = openai_client.conversations.create(metadata={f"k{i}": "v" for i in range(16)})
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.conversations.update(conv.id, metadata={"one_more": "v"})
    assert info.value.code == "object_above_max_properties"
    assert "got an object with 17 properties" in info.value.body["message"]


@pytest.mark.parametrize(
    "bad_id",
    [
        "conv_" + "0" * 32,
        "conv_nonexistent123",
        "conv/../x y",
        "not-a-uuid",
        "%00",
        "conv_" + "g" * 32,
    ],
)
def test_unknown_ids_raise_not_found(openai_client, bad_id):
    with pytest.raises(openai.NotFoundError):
        openai_client.conversations.retrieve(bad_id)
    with pytest.raises(openai.NotFoundError):
        openai_client.conversations.update(bad_id, metadata={"a": "b"})


def test_other_projects_conversations_are_not_found(openai_client, live_server, other_api_key):
    conv = openai_client.conversations.create(metadata={"secret": "x"})
    other = openai.OpenAI(
        base_url=f"{live_server.url}/openai/v1", api_key=other_api_key, max_retries=0
    )
    for call in (
        lambda: other.conversations.retrieve(conv.id),
        lambda: other.conversations.update(conv.id, metadata={"a": "b"}),
        lambda: other.conversations.delete(conv.id),
        lambda: other.conversations.items.list(conv.id),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    assert openai_client.conversations.retrieve(conv.id).metadata == {"secret": "x"}


def test_every_id_form_is_accepted(openai_client):
    conv = openai_client.conversations.create(metadata={"a": "1"})
    pk = Conversation.objects.get().pk
    for form in (str(pk), pk.hex, conv.id):
        assert openai_client.conversations.retrieve(form).id == conv.id


def test_wrong_and_revoked_keys_raise_authentication_error(live_server, db, project):
    from conversations.services import api_key_create, api_key_revoke

    api_key, raw = api_key_create(project=project)
    api_key_revoke(api_key=api_key)
    for key in ("cs_wrong", raw):
        client = openai.OpenAI(base_url=f"{live_server.url}/openai/v1", api_key=key, max_retries=0)
        with pytest.raises(openai.AuthenticationError) as info:
            client.conversations.create()
        assert info.value.code == "invalid_api_key"
        assert key not in info.value.body["message"]


def test_sixteen_sdk_clients_merging_at_once_keep_every_key(openai_client):
    conv = openai_client.conversations.create()
    barrier = threading.Barrier(16)
    errors = []

    def merge(i):
        barrier.wait()
        try:
            openai_client.conversations.update(conv.id, metadata={f"key{i}": str(i)})
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=merge, args=(i,)) for i in range(16)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    assert openai_client.conversations.retrieve(conv.id).metadata == {
        f"key{i}": str(i) for i in range(16)
    }


def test_a_race_past_sixteen_stores_exactly_sixteen(openai_client):
    conv = openai_client.conversations.create(metadata={f"old{i}": "v" for i in range(8)})
    barrier = threading.Barrier(12)
    outcomes = []

    def merge(i):
        barrier.wait()
        try:
            openai_client.conversations.update(conv.id, metadata={f"new{i}": "v"})
            outcomes.append(HTTPStatus.OK)
        except openai.BadRequestError as exc:
            outcomes.append((exc.status_code, exc.code))

    threads = [threading.Thread(target=merge, args=(i,)) for i in range(12)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert outcomes.count(HTTPStatus.OK) == 8
    assert outcomes.count((400, "object_above_max_properties")) == 4
    assert len(openai_client.conversations.retrieve(conv.id).metadata) == 16
