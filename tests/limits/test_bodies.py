"""Bounded request bodies: JSON nesting depth, field lengths and message size, in every format.

Before these limits a body nested ~1,000 deep answered 500 on every body route, and an OpenAI
item ``type`` over 64 or ``status`` over 32 characters answered 500 (the database refused it).
"""

import json

import pytest

from conversations.models import Conversation, Message, MetadataChange
from conversations.services import SYSTEM, conversation_create

from .routes import BODY_ROUTES, assert_error_shape, fill

EXPECTED_STATUS = {"openai": 400, "azure": 400, "telnyx": 422, "agentphone": 422}


@pytest.fixture
def conversation(project, settings):
    settings.CONVSTORE_CHAT_RESPONDER = "conversations.formats.telnyx.responders.echo"
    return conversation_create(project=project, metadata={"keep": "me"}, actor=SYSTEM)


def send(client, fmt, method, path, body: str, api_key):
    headers = (
        {"HTTP_API_KEY": api_key} if fmt == "azure" else {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    )
    return client.generic(method, path, body, content_type="application/json", **headers)


def stored_state():
    return (
        Conversation.objects.count(),
        Message.objects.count(),
        MetadataChange.objects.count(),
        sorted(str(m) for m in Conversation.objects.values_list("metadata", flat=True)),
    )


def nested(depth: int) -> str:
    """A ``metadata`` value nested ``depth`` levels deep in all (the body object counts one)."""
    return '{"metadata": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


@pytest.mark.django_db
@pytest.mark.parametrize(("fmt", "method", "template"), BODY_ROUTES)
@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_deep_nesting_is_refused_in_the_formats_shape(
    client, api_key, conversation, fmt, method, template, depth
):
    before = stored_state()
    response = send(client, fmt, method, fill(template, conversation), nested(depth), api_key)
    assert response.status_code == EXPECTED_STATUS[fmt], response.content[:300]
    body = response.json()
    assert_error_shape(fmt, response.status_code, body)
    assert "32 levels" in json.dumps(body)
    assert stored_state() == before


@pytest.mark.django_db
def test_nesting_at_the_limit_is_parsed(client, api_key, conversation):
    """32 levels pass the parser (and then meet the metadata rules: a list is no string)."""
    path = fill("/openai/v1/conversations/{conv}", conversation)
    response = send(client, "openai", "POST", path, nested(32), api_key)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_type"


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["openai", "azure"])
@pytest.mark.parametrize(
    ("item", "param", "code", "message"),
    [
        # No item type is that long: an unknown type is refused before its column's bound.
        ({"type": "t" * 65}, "items[0].type", "invalid_value", "Invalid value"),
        (
            {"type": "function_call_output", "status": "s" * 33, "output": "x"},
            "items[0].status",
            "string_above_max_length",
            "maximum length 32",
        ),
        (
            {"role": "user", "content": "hi", "status": "s" * 33},
            "items[0].status",
            "string_above_max_length",
            "maximum length 32",
        ),
    ],
)
def test_openai_item_fields_over_their_columns_answer_400(
    client, api_key, conversation, fmt, item, param, code, message
):
    base = "/openai/v1" if fmt == "openai" else "/azure/openai/v1"
    before = stored_state()
    for path in (
        f"{base}/conversations",
        fill(f"{base}/conversations/{{conv}}/items", conversation),
    ):
        response = send(client, fmt, "POST", path, json.dumps({"items": [item]}), api_key)
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert error["param"] == param
        assert error["code"] == code
        assert message in error["message"]
    assert stored_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"role": "user", "content": "x", "name": "n" * 256}, ["body", "name"]),
        ({"role": "user", "content": "x", "tool_call_id": "c" * 256}, ["body", "tool_call_id"]),
    ],
)
def test_telnyx_message_fields_over_their_columns_answer_422(
    client, api_key, conversation, body, loc
):
    before = stored_state()
    path = fill("/telnyx/v2/ai/conversations/{uuid}/message", conversation)
    response = send(client, "telnyx", "POST", path, json.dumps(body), api_key)
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["loc"] == loc and item["type"] == "string_too_long"
    assert stored_state() == before


@pytest.mark.django_db
def test_message_over_the_size_limit_is_refused_in_every_format(
    client, api_key, conversation, settings
):
    settings.CONVSTORE_MAX_MESSAGE_BYTES = 1000
    big = "x" * 1001
    before = stored_state()
    for fmt, path, body in [
        ("openai", "/openai/v1/conversations", {"items": [{"role": "user", "content": big}]}),
        (
            "azure",
            fill("/azure/openai/v1/conversations/{conv}/items", conversation),
            {"items": [{"role": "user", "content": "ok"}, {"role": "user", "content": big}]},
        ),
        (
            "telnyx",
            fill("/telnyx/v2/ai/conversations/{uuid}/message", conversation),
            {"role": "user", "content": big},
        ),
        (
            "telnyx",
            "/telnyx/v2/ai/assistants/a1/chat",
            {"content": big, "conversation_id": str(conversation.id)},
        ),
    ]:
        response = send(client, fmt, "POST", path, json.dumps(body), api_key)
        assert response.status_code in (400, 422), (path, response.content)
        data = response.json()
        assert_error_shape(fmt, response.status_code, data)
        assert "1000 bytes" in json.dumps(data), data
        if fmt == "azure":
            assert data["error"]["param"] == "items[1]"
    assert stored_state() == before
    ok = send(
        client,
        "openai",
        "POST",
        "/openai/v1/conversations",
        json.dumps({"items": [{"role": "user", "content": "x" * 900}]}),
        api_key,
    )
    assert ok.status_code == 200
    assert Message.objects.get().size_bytes > 900


@pytest.mark.django_db
def test_chat_reply_over_the_size_limit_is_a_responder_failure(
    client, api_key, conversation, settings
):
    settings.CONVSTORE_MAX_MESSAGE_BYTES = 50
    before = stored_state()
    # echo answers "You said: <content>": the user message fits, the reply does not.
    body = {"content": "x" * 25, "conversation_id": str(conversation.id)}
    response = send(
        client, "telnyx", "POST", "/telnyx/v2/ai/assistants/a1/chat", json.dumps(body), api_key
    )
    assert response.status_code == 502
    assert response.json()["errors"][0]["code"] == "10007"
    assert stored_state() == before


def test_one_body_limit_for_every_route(client, api_key, settings):
    """The limit is checked once (the body middleware) for API routes and the admin alike:
    the API words it in its format, any other page answers a plain 413."""
    settings.CONVSTORE_MAX_BODY_BYTES = 100
    body = json.dumps({"metadata": {"k": "v" * 100}})
    api = client.post(
        "/openai/v1/conversations", body, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
    )  # fmt: skip
    assert api.status_code == 413 and api.json()["error"]["code"] == "payload_too_large"
    admin = client.post("/admin/login/", {"username": "u" * 100, "password": "p"})
    assert admin.status_code == 413 and admin.content == b"Request body too large.\n"
    assert not Conversation.objects.exists()
