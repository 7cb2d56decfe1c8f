"""The official ``telnyx`` SDK against a live server: every route of the Telnyx format."""

from http import HTTPStatus

import pytest
import telnyx

from conversations.models import Message

ECHO = "conversations.formats.telnyx.responders.echo"


@pytest.fixture
def client(live_server, api_key):
    return telnyx.Telnyx(api_key=api_key, base_url=f"{live_server.url}/telnyx/v2", max_retries=0)


@pytest.fixture
def echo_responder(settings):
    settings.CONVSTORE_CHAT_RESPONDER = ECHO


def test_create_returns_bare_conversation_with_dashed_id(client):
    created = client.ai.conversations.create(name="Voice 1", metadata={"topic": "demo"})
    assert len(created.id) == 36 and created.id.count("-") == 4
    assert created.name == "Voice 1"
    assert created.metadata == {"topic": "demo"}
    assert created.created_at is not None and created.last_message_at is not None


def test_retrieve_unwraps_data(client):
    created = client.ai.conversations.create(metadata={"a": "1"})
    fetched = client.ai.conversations.retrieve(created.id)
    assert fetched.data.id == created.id
    assert fetched.data.metadata == {"a": "1"}


def test_update_merges_and_null_removes_a_key(client):
    created = client.ai.conversations.create(metadata={"keep": "1", "drop": "2"})
    updated = client.ai.conversations.update(created.id, metadata={"drop": None, "new": "3"})
    assert updated.data.metadata == {"keep": "1", "new": "3"}
    unchanged = client.ai.conversations.update(created.id, metadata={})
    assert unchanged.data.metadata == {"keep": "1", "new": "3"}
    unchanged = client.ai.conversations.update(created.id)
    assert unchanged.data.metadata == {"keep": "1", "new": "3"}


def test_update_accepts_ai_disabled_as_bool_and_stores_string(client):
    created = client.ai.conversations.create()
    updated = client.ai.conversations.update(created.id, metadata={"ai_disabled": True})
    assert updated.data.metadata == {"ai_disabled": "true"}


def test_delete_then_retrieve_is_not_found(client):
    created = client.ai.conversations.create()
    assert client.ai.conversations.delete(created.id) is None
    with pytest.raises(telnyx.NotFoundError) as info:
        client.ai.conversations.retrieve(created.id)
    assert info.value.body == {
        "errors": [
            {"code": "10005", "title": "Resource not found", "detail": "Conversation Not Found"}
        ]
    }


def test_list_with_sdk_metadata_filters_custom_key_order_and_limit(client):
    a = client.ai.conversations.create(
        name="Voice a",
        metadata={
            "assistant_id": "assistant-1",
            "telnyx_conversation_channel": "phone_call",
            "telnyx_agent_target": "+13128675309",
            "call_control_id": "v3:123",
            "custom": "x,y",
        },
    )
    b = client.ai.conversations.create(
        name="Voice b",
        metadata={"assistant_id": "assistant-1", "telnyx_conversation_channel": "sms_chat"},
    )
    client.ai.conversations.create(name="Other", metadata={"assistant_id": "assistant-2"})

    found = client.ai.conversations.list(metadata_assistant_id="eq.assistant-1")
    assert [c.id for c in found.data] == [b.id, a.id]  # default order: created_at.desc

    found = client.ai.conversations.list(
        metadata_assistant_id="eq.assistant-1", order="created_at.asc", limit=1
    )
    assert [c.id for c in found.data] == [a.id]

    found = client.ai.conversations.list(
        metadata_telnyx_conversation_channel="eq.phone_call",
        metadata_telnyx_agent_target="eq.+13128675309",
        metadata_call_control_id="eq.v3:123",
        name="like.Voice*",
        extra_query={"metadata->custom": 'eq."x,y"'},
    )
    assert [c.id for c in found.data] == [a.id]

    found = client.ai.conversations.list(extra_query={"metadata->>custom": "like.x%"})
    assert [c.id for c in found.data] == [a.id]

    found = client.ai.conversations.list(
        or_="(metadata->telnyx_conversation_channel.eq.sms_chat,name.eq.Other)",
        order="name.desc",
    )
    assert [c.name for c in found.data] == ["Voice b", "Other"]

    found = client.ai.conversations.list(id=f"eq.{b.id}", created_at="gte.2000-01-01")
    assert [c.id for c in found.data] == [b.id]


def test_list_bad_operator_raises_unprocessable(client):
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        client.ai.conversations.list(created_at="between.2025-01-01")
    detail = info.value.body["detail"]
    assert detail[0]["loc"] == ["query", "created_at"]
    assert {"loc", "msg", "type"} <= set(detail[0])


def test_add_message_and_auto_paginate_messages(client):
    created = client.ai.conversations.create()
    before = client.ai.conversations.retrieve(created.id).data.last_message_at
    for index in range(5):
        client.ai.conversations.add_message(
            created.id,
            role="user" if index % 2 == 0 else "assistant",
            content=f"message {index}",
            metadata={"n": index, "flag": True, "tags": ["a", 1]},
            sent_at="2025-01-01T00:00:00Z",
        )
    after = client.ai.conversations.retrieve(created.id).data.last_message_at
    assert after > before

    page = client.ai.conversations.messages.list(created.id, page_size=2)
    assert page.meta.total_results == 5 and page.meta.total_pages == 3
    texts = [message.text for message in page]  # auto-paginates across three pages
    assert texts == [f"message {i}" for i in range(5)]
    first = client.ai.conversations.messages.list(created.id, page_size=2).data[0]
    assert first.role == "user"
    assert first.metadata == {"n": 0, "flag": True, "tags": ["a", 1]}
    assert first.sent_at.year == 2025


def test_add_message_with_tool_calls_round_trips(client):
    created = client.ai.conversations.create()
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    client.ai.conversations.add_message(created.id, role="assistant", tool_calls=[call])
    client.ai.conversations.add_message(
        created.id, role="tool", content="42", tool_call_id="call_1", tool_choice="auto"
    )
    messages = client.ai.conversations.messages.list(created.id).data
    assert messages[0].tool_calls[0].function.name == "f"
    assert messages[1].role == "tool" and messages[1].text == "42"


def test_chat_stores_user_message_and_reply(client, echo_responder):
    created = client.ai.conversations.create()
    reply = client.ai.assistants.chat("assistant-1", content="hello", conversation_id=created.id)
    assert reply.content == "You said: hello"
    texts = [(m.role, m.text) for m in client.ai.conversations.messages.list(created.id)]
    assert texts == [("user", "hello"), ("assistant", "You said: hello")]


def test_chat_without_responder_answers_501_and_stores_nothing(client, settings):
    settings.CONVSTORE_CHAT_RESPONDER = ""
    created = client.ai.conversations.create()
    with pytest.raises(telnyx.APIStatusError) as info:
        client.ai.assistants.chat("a", content="hello", conversation_id=created.id)
    assert info.value.status_code == HTTPStatus.NOT_IMPLEMENTED
    assert "CONVSTORE_CHAT_RESPONDER" in info.value.body["errors"][0]["detail"]
    assert not Message.objects.filter(conversation_id=created.id).exists()


def test_chat_unknown_conversation_is_not_found(client, echo_responder):
    with pytest.raises(telnyx.NotFoundError):
        client.ai.assistants.chat("a", content="hi", conversation_id="not-an-id")


def test_wrong_key_raises_authentication_error(live_server, db):
    client = telnyx.Telnyx(
        api_key="cs_wrong", base_url=f"{live_server.url}/telnyx/v2", max_retries=0
    )
    with pytest.raises(telnyx.AuthenticationError) as info:
        client.ai.conversations.list()
    assert info.value.body["errors"][0]["code"] == "10009"
