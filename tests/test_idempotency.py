"""Idempotent creates (``Idempotency-Key``) in every format, through the SDKs and plain HTTP:
a key replays the first answer, on every create route.

The other ``Idempotency-Key`` tests: ``test_idempotency_leases.py`` (running, crashed and
expired first requests), ``test_idempotency_concurrency.py`` (concurrent requests, and the
answer stored with the write) and ``test_idempotency_rules.py`` (the rules one by one)."""

from http import HTTPStatus

import openai
import pytest
import telnyx

from conversations.models import Conversation, IdempotencyKey, Message, MetadataChange
from tests.idempotency_keys import key_header

ECHO = "conversations.formats.telnyx.responders.echo"


def failing_responder(conversation, message):
    """A responder that crashes after the user message was written."""
    raise RuntimeError("model backend down")


# --- replay --------------------------------------------------------------------------------


def test_openai_create_with_the_same_key_replays_the_first_answer(openai_client):
    headers = key_header("create-1")
    first = openai_client.conversations.with_raw_response.create(
        metadata={"a": "1"}, items=[{"role": "user", "content": "hi"}], extra_headers=headers
    )
    second = openai_client.conversations.with_raw_response.create(
        metadata={"a": "1"}, items=[{"role": "user", "content": "hi"}], extra_headers=headers
    )
    assert first.status_code == second.status_code == HTTPStatus.OK
    assert first.http_response.content == second.http_response.content
    assert second.parse().id == first.parse().id
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["content-type"] == "application/json"
    assert Conversation.objects.count() == 1 and Message.objects.count() == 1
    assert MetadataChange.objects.count() == 1


def test_a_different_body_with_the_same_key_answers_422(openai_client, http):
    openai_client.conversations.create(metadata={"a": "1"}, extra_headers=key_header("k"))
    with pytest.raises(openai.UnprocessableEntityError) as info:
        openai_client.conversations.create(metadata={"a": "2"}, extra_headers=key_header("k"))
    assert info.value.code == "idempotency_key_reused" and info.value.param == "Idempotency-Key"
    # The same JSON with other spacing and key order is the same request.
    same = http.post(
        "/openai/v1/conversations",
        content=b'{ "metadata" : {"a":"1"} }',
        headers={"content-type": "application/json", **key_header("k")},
    )
    assert same.status_code == HTTPStatus.OK and same.headers["idempotent-replayed"] == "true"
    assert Conversation.objects.count() == 1


def test_a_failed_first_attempt_does_not_poison_the_key(openai_client, telnyx_client):
    too_many = {f"k{i}": "v" for i in range(17)}
    with pytest.raises(openai.BadRequestError):
        openai_client.conversations.create(metadata=too_many, extra_headers=key_header("retry"))
    fixed = openai_client.conversations.with_raw_response.create(
        metadata={"k": "v"}, extra_headers=key_header("retry")
    )
    assert "idempotent-replayed" not in fixed.headers
    assert Conversation.objects.get().metadata == {"k": "v"}

    with pytest.raises(telnyx.UnprocessableEntityError):
        telnyx_client.ai.conversations.create(metadata=too_many, idempotency_key="t-retry")
    telnyx_client.ai.conversations.create(metadata={"x": "y"}, idempotency_key="t-retry")
    assert Conversation.objects.count() == 2
    assert IdempotencyKey.objects.filter(status_code=200).count() == 2


@pytest.mark.parametrize(
    ("key", "expected"),
    [("k" * 255, HTTPStatus.OK), ("k" * 256, HTTPStatus.BAD_REQUEST), ("", HTTPStatus.BAD_REQUEST)],
)
def test_key_length_is_bounded_in_every_format(http, key, expected):
    response = http.post("/openai/v1/conversations", json={}, headers=key_header(key))
    assert response.status_code == expected
    if expected == HTTPStatus.BAD_REQUEST:
        assert response.json()["error"]["param"] == "Idempotency-Key"
    response = http.post("/telnyx/v2/ai/conversations", json={}, headers=key_header(key))
    assert response.status_code == expected
    if expected == HTTPStatus.BAD_REQUEST:
        assert response.json()["errors"][0]["code"] == "10015"
    assert Conversation.objects.count() == (2 if expected == HTTPStatus.OK else 0)


def test_a_structured_field_string_names_the_same_key(http):
    first = http.post("/openai/v1/conversations", json={}, headers=key_header("abc"))
    again = http.post("/openai/v1/conversations", json={}, headers=key_header('"abc"'))
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()


def test_keys_are_scoped_to_partition_and_route(http, azure_client_factory, other_api_key):
    body, headers = {"metadata": {"a": "1"}}, key_header("shared")
    ids = {
        http.post("/openai/v1/conversations", json=body, headers=headers).json()["id"],
        http.post(
            "/openai/v1/conversations",
            json=body,
            headers={**headers, "x-ms-user-isolation-key": "alice"},
        ).json()["id"],
        http.post("/azure/openai/v1/conversations", json=body, headers=headers).json()["id"],
        http.post(
            "/openai/v1/conversations",
            json=body,
            headers={**headers, "Authorization": f"Bearer {other_api_key}"},
        ).json()["id"],
    }
    assert len(ids) == 4 == Conversation.objects.count()


# --- every create route ------------------------------------------------------------------------


def test_items_create_is_idempotent(openai_client, azure_client_factory):
    conv = openai_client.conversations.create()
    items = [{"role": "user", "content": "once"}]
    first = openai_client.conversations.items.create(
        conv.id, items=items, extra_headers=key_header("i1")
    )
    second = openai_client.conversations.items.create(
        conv.id, items=items, extra_headers=key_header("i1")
    )
    assert [i.id for i in second.data] == [i.id for i in first.data]
    assert Message.objects.count() == 1
    azure = azure_client_factory()
    azure_conv = azure.conversations.create(extra_headers=key_header("az"))
    assert azure.conversations.create(extra_headers=key_header("az")).id == azure_conv.id


def test_telnyx_create_and_add_message_are_idempotent_through_the_sdk(telnyx_client):
    first = telnyx_client.ai.conversations.create(name="n", idempotency_key="c1")
    second = telnyx_client.ai.conversations.create(name="n", idempotency_key="c1")
    assert first.id == second.id and Conversation.objects.count() == 1
    for _ in range(3):
        telnyx_client.ai.conversations.add_message(
            first.id, role="user", content="hello", idempotency_key="m1"
        )
    assert Message.objects.count() == 1
    replay = telnyx_client.ai.conversations.with_raw_response.add_message(
        first.id, role="user", content="hello", idempotency_key="m1"
    )
    assert replay.headers["idempotent-replayed"] == "true" and replay.http_response.content == b""


def test_telnyx_different_body_is_a_fastapi_422(http):
    http.post("/telnyx/v2/ai/conversations", json={"name": "a"}, headers=key_header("t"))
    response = http.post("/telnyx/v2/ai/conversations", json={"name": "b"}, headers=key_header("t"))
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]


def test_telnyx_chat_is_idempotent_and_a_crash_frees_the_key(http, settings):
    conv_id = http.post("/telnyx/v2/ai/conversations", json={}).json()["id"]
    body, headers = {"content": "Hello", "conversation_id": conv_id}, key_header("chat-1")
    settings.CONVSTORE_CHAT_RESPONDER = "tests.test_idempotency.failing_responder"
    crashed = http.post("/telnyx/v2/ai/assistants/a1/chat", json=body, headers=headers)
    assert crashed.status_code == HTTPStatus.BAD_GATEWAY
    assert Message.objects.count() == 0 and IdempotencyKey.objects.count() == 0

    settings.CONVSTORE_CHAT_RESPONDER = ECHO
    answers = [
        http.post("/telnyx/v2/ai/assistants/a1/chat", json=body, headers=headers) for _ in range(2)
    ]
    assert [a.json() for a in answers] == [{"content": "You said: Hello"}] * 2
    assert answers[1].headers["idempotent-replayed"] == "true"
    assert Message.objects.count() == 2
