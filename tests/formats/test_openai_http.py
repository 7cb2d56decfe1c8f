"""The OpenAI format's error table over raw HTTP (Django's test client): what SDKs can't send."""

import base64
import json
from http import HTTPStatus

import pytest

from conversations.models import Conversation

BASE = "/openai/v1"


@pytest.fixture
def auth(api_key):
    return {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}


def post(client, path, body, auth, **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(BASE + path, data=data, content_type="application/json", **auth, **extra)


def error(response):
    return response.json()["error"]


def test_missing_key_answers_401_with_openai_wording(client, db):
    response = client.post(BASE + "/conversations", data="{}", content_type="application/json")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    body = error(response)
    assert body["message"].startswith("You didn't provide an API key.")
    assert (body["type"], body["param"], body["code"]) == ("invalid_request_error", None, None)
    assert response["x-request-id"].startswith("req_")


def test_every_response_carries_a_request_id(client, auth):
    for response in (
        post(client, "/conversations", {}, auth),
        client.get(BASE + "/conversations/nope", **auth),
        client.get(BASE + "/nowhere"),
    ):
        assert len(response["x-request-id"]) == 36


@pytest.mark.parametrize("body", ['{"metadata": ', "not json", b"\xff\xfe", "[1, 2"])
def test_malformed_json_answers_400(client, auth, body):
    response = post(client, "/conversations", body, auth)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "could not parse the JSON body" in error(response)["message"]
    assert Conversation.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ([], "invalid_type", None),
        ('"text"', "invalid_type", None),
        ({"metadata": {"a": "b"}, "model": "x"}, "unknown_parameter", "model"),
        ({"items": "hello"}, "invalid_type", "items"),
        ({"items": ["hello"]}, "invalid_type", "items[0]"),
        ({"items": [{"role": "user"}]}, "missing_required_parameter", "items[0].content"),
        ({"items": [{"role": "user", "content": 5}]}, "invalid_type", "items[0].content"),
        ({"items": [{"role": "user", "content": [1]}]}, "invalid_type", "items[0].content[0]"),
        ({"items": [{"role": "user", "content": "a\u0000b"}]}, "invalid_value", "items[0]"),
    ],
)
def test_wrong_types_on_create_answer_400_and_store_nothing(client, auth, body, code, param):
    response = post(client, "/conversations", body, auth)
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content
    assert (error(response)["code"], error(response)["param"]) == (code, param)
    assert Conversation.objects.count() == 0


def test_update_without_metadata_is_missing_required_parameter(client, auth):
    conv_id = post(client, "/conversations", {}, auth).json()["id"]
    response = post(client, f"/conversations/{conv_id}", {}, auth)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error(response)["code"] == "missing_required_parameter"
    assert error(response)["message"] == "Missing required parameter: 'metadata'."


def test_nul_character_never_reaches_the_database(client, auth):
    conv_id = post(client, "/conversations", {"metadata": {"a": "1"}}, auth).json()["id"]
    raw = '{"metadata": {"a": "x\\u0000y", "b\\u0000": "2"}}'
    response = post(client, f"/conversations/{conv_id}", raw, auth)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error(response)["code"] == "invalid_value"
    assert Conversation.objects.get().metadata == {"a": "1"}


def test_body_too_large_answers_413(client, auth, settings):
    settings.CONVSTORE_MAX_BODY_BYTES = 1000
    response = post(client, "/conversations", {"metadata": {"a": "x" * 2000}}, auth)
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert error(response)["code"] == "payload_too_large"
    assert Conversation.objects.count() == 0


def test_unknown_route_and_wrong_method_answer_in_openai_shape(client, auth):
    response = client.put(BASE + "/conversations", **auth)  # GET lists (issue 11)
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert "error" in response.json()
    response = client.get(BASE + "/responses/foo", **auth)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert error(response)["message"] == "Invalid URL (GET /openai/v1/responses/foo)"


@pytest.mark.parametrize(
    "path",
    [
        "/conversations/" + "a" * 500,
        "/conversations/conv_%00",
        "/conversations/%F0%9F%98%80",
        "/conversations/conv_x/items/msg_y",
        "/conversations/../conversations",
    ],
)
def test_odd_paths_never_500(client, auth, path):
    for method in (client.get, client.delete):
        response = method(BASE + path, **auth)
        assert response.status_code in (HTTPStatus.NOT_FOUND, HTTPStatus.METHOD_NOT_ALLOWED)
        assert "error" in response.json()


@pytest.mark.parametrize(
    "metadata",
    [
        {"a": {"nested": "x"}},
        {"a": 1e308},
        {"a": None},
        {"a": True},
        {"ai_disabled": None},
        {"ai_disabled": 1},
        {"ai_disabled": []},
        {"\ud800": "x"},
        {"k": "\ud800"},
        12,
        [],
        True,
    ],
)
def test_odd_metadata_never_500(client, auth, metadata):
    # json.dumps escapes lone surrogates (ensure_ascii), so every case here is sent as JSON.
    body = json.dumps({"metadata": metadata})
    response = post(client, "/conversations", body, auth)
    assert response.status_code in (HTTPStatus.OK, HTTPStatus.BAD_REQUEST), response.content
    if response.status_code == HTTPStatus.OK:
        stored = Conversation.objects.get().metadata
        assert all(isinstance(v, str) for v in stored.values())


@pytest.mark.parametrize(
    "query",
    ["limit=abc", "limit=-1", "order=sideways", "after=msg_nope", "limit=99999999999999999999"],
)
def test_bad_list_queries_answer_400(client, auth, query):
    conv_id = post(client, "/conversations", {}, auth).json()["id"]
    response = client.get(f"{BASE}/conversations/{conv_id}/items?{query}", **auth)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error(response)["param"] in ("limit", "order", "after")


@pytest.mark.parametrize(
    "body",
    [
        '{"metadata": {"k": "\\ud800"}}',
        '{"items": [{"role": "user", "content": "\\udfff"}]}',
        '{"items": [{"type": "function_call_output", "call_id": "c", "output": "x", "n": 1e400}]}',
    ],
)
def test_unstorable_json_answers_400_and_stores_nothing(client, auth, body):
    response = post(client, "/conversations", body, auth)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert Conversation.objects.count() == 0


def test_over_long_isolation_key_answers_400(client, auth):
    response = post(client, "/conversations", {}, auth, HTTP_X_MS_USER_ISOLATION_KEY="k" * 257)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error(response)["param"] == "x-ms-user-isolation-key"
    assert Conversation.objects.count() == 0
    ok = post(client, "/conversations", {}, auth, HTTP_X_MS_USER_ISOLATION_KEY="k" * 256)
    assert ok.status_code == HTTPStatus.OK


def test_basic_auth_with_blank_user_name_and_the_key_as_password(client, api_key):
    """What the 401 message offers (``curl -u ":$KEY"``, RFC 7617): the key as the password
    of a blank user name authenticates; a user name, or a wrong password, does not."""

    def basic(user, password):
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return client.get(BASE + "/conversations", HTTP_AUTHORIZATION=f"Basic {token}")

    assert basic("", api_key).status_code == HTTPStatus.OK
    named = basic("me", api_key)
    assert named.status_code == HTTPStatus.UNAUTHORIZED
    assert error(named)["message"].startswith("You didn't provide an API key.")
    assert error(basic("", api_key + "x"))["code"] == "invalid_api_key"
    for credentials in ("not base64!", "/w==", "é"):  # not base64, not UTF-8, not ASCII
        answer = client.get(BASE + "/conversations", HTTP_AUTHORIZATION=f"Basic {credentials}")
        assert answer.status_code == HTTPStatus.UNAUTHORIZED, credentials
        assert error(answer)["message"].startswith("You didn't provide an API key.")
