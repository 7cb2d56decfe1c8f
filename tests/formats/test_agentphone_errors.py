"""AgentPhone's FastAPI-style error bodies, on raw HTTP (Django's test client)."""

from http import HTTPStatus

import pytest

from conversations import services
from conversations.services import Actor

BASE = "/agentphone/v1/conversations"


@pytest.fixture
def auth(api_key):
    return {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}


@pytest.fixture
def conversation(project):
    return services.conversation_create(
        project=project, actor=Actor.for_command("tests"), metadata={"a": "1"}
    )


def patch(client, url, body, auth, content_type="application/json"):
    return client.generic("PATCH", url, body, content_type=content_type, **auth)


def test_missing_key_answers_401_not_authenticated(client, db):
    response = client.get(BASE)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {"detail": "Not authenticated"}


def test_unknown_id_answers_404_detail(client, auth):
    response = client.get(f"{BASE}/conv_{'a' * 32}", **auth)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {"detail": "Conversation not found"}


def test_other_projects_conversation_answers_404(client, other_api_key, conversation):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {other_api_key}"}
    for response in (
        client.get(f"{BASE}/{conversation.id.hex}", **auth),
        client.get(f"{BASE}/{conversation.id.hex}/messages", **auth),
        patch(client, f"{BASE}/{conversation.id.hex}", '{"metadata": {}}', auth),
    ):
        assert response.status_code == HTTPStatus.NOT_FOUND
        assert response.json() == {"detail": "Conversation not found"}
    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "1"}


def test_unknown_path_answers_404_not_found(client, auth):
    response = client.get("/agentphone/v1/nothing/here", **auth)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {"detail": "Not Found"}


def test_wrong_method_answers_405(client, auth, conversation):
    response = client.delete(f"{BASE}/{conversation.id.hex}", **auth)
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json() == {"detail": "Method Not Allowed"}


def test_malformed_json_answers_422(client, auth, conversation):
    response = patch(client, f"{BASE}/{conversation.id.hex}", "{not json", auth)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize(
    ("body", "loc", "type_"),
    [
        ("[1, 2]", ["body"], "model_attributes_type"),
        ('{"metadata": "text"}', ["body", "metadata"], "dict_type"),
        ('{"metadata": {"k": 5}}', ["body", "metadata", "k"], "string_type"),
        ('{"metadata": {"k": "' + "x" * 513 + '"}}', ["body", "metadata", "k"], "string_too_long"),
        (
            '{"metadata": {"' + "k" * 65 + '": "v"}}',
            ["body", "metadata", "k" * 65],
            "string_too_long",
        ),
        ('{"metadata": {"": "v"}}', ["body", "metadata", ""], "string_too_short"),
        ('{"metadata": {"k": "a\\u0000b"}}', ["body", "metadata", "k"], "value_error"),
        (
            '{"metadata": {"ai_disabled": "maybe"}}',
            ["body", "metadata", "ai_disabled"],
            "bool_parsing",
        ),
        ('{"group_name": 5}', ["body", "group_name"], "string_type"),
        ('{"group_name": "a\\u0000"}', ["body", "group_name"], "value_error"),
        ('{"group_name": "' + "g" * 256 + '"}', ["body", "group_name"], "string_too_long"),
    ],
)
def test_invalid_body_answers_422_with_fastapi_items(client, auth, conversation, body, loc, type_):
    response = patch(client, f"{BASE}/{conversation.id.hex}", body, auth)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY, response.content
    [item] = response.json()["detail"]
    assert (item["loc"], item["type"]) == (loc, type_)
    assert item["msg"]
    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "1"}


def test_metadata_null_clears_to_null(client, auth, conversation):
    response = patch(client, f"{BASE}/{conversation.id.hex}", '{"metadata": null}', auth)
    assert response.status_code == HTTPStatus.OK
    assert response.json()["metadata"] is None
    conversation.refresh_from_db()
    assert conversation.metadata is None


def test_empty_body_is_a_no_op(client, auth, conversation):
    response = patch(client, f"{BASE}/{conversation.id.hex}", "", auth)
    assert response.status_code == HTTPStatus.OK
    assert response.json()["metadata"] == {"a": "1"}


@pytest.mark.parametrize(
    ("query", "loc", "type_"),
    [
        ("limit=abc", ["query", "limit"], "int_parsing"),
        ("limit=0", ["query", "limit"], "greater_than_equal"),
        ("limit=101", ["query", "limit"], "less_than_equal"),
        ("offset=-1", ["query", "offset"], "greater_than_equal"),
        ("offset=99999999999999999999", ["query", "offset"], "less_than_equal"),
    ],
)
def test_bad_list_params_answer_422(client, auth, query, loc, type_):
    response = client.get(f"{BASE}?{query}", **auth)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    [item] = response.json()["detail"]
    assert (item["loc"], item["type"]) == (loc, type_)


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("before=yesterday", "before"),
        ("after=2025-13-45T00:00:00Z", "after"),
        ("limit=500", "limit"),
    ],
)
def test_bad_message_params_answer_422(client, auth, conversation, query, name):
    response = client.get(f"{BASE}/{conversation.id.hex}/messages?{query}", **auth)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["detail"][0]["loc"] == ["query", name]


def test_message_limit_above_100_answers_422(client, auth, conversation):
    response = client.get(f"{BASE}/{conversation.id.hex}?message_limit=101", **auth)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY


@pytest.mark.parametrize(
    "value", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00%2B05:00", "2025-02-30"]
)
def test_out_of_range_cursor_answers_422(client, auth, conversation, value):
    response = client.get(f"{BASE}/{conversation.id.hex}/messages?after={value}", **auth)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY


def test_cursor_with_unencoded_plus_offset_is_accepted(client, auth, conversation):
    url = f"{BASE}/{conversation.id.hex}/messages?after=2000-01-01T00:00:00+05:00"
    response = client.get(url, **auth)
    assert response.status_code == HTTPStatus.OK


def test_date_only_cursor_is_accepted(client, auth, conversation):
    response = client.get(f"{BASE}/{conversation.id.hex}/messages?before=2999-01-01", **auth)
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"data": [], "hasMore": False}


def test_body_too_large_answers_413(client, auth, conversation, settings):
    settings.CONVSTORE_MAX_BODY_BYTES = 100
    body = '{"metadata": {"k": "' + "x" * 200 + '"}}'
    response = patch(client, f"{BASE}/{conversation.id.hex}", body, auth)
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert response.json() == {"detail": "Request body too large"}


def test_form_body_answers_415(client, auth, conversation):
    response = patch(
        client,
        f"{BASE}/{conversation.id.hex}",
        "metadata=x",
        auth,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE


def test_list_runs_a_fixed_number_of_queries(client, auth, project, django_assert_max_num_queries):
    for _ in range(15):
        services.conversation_create(project=project, actor=Actor.for_command("tests"))
    with django_assert_max_num_queries(4):
        response = client.get(f"{BASE}?limit=100", **auth)
    assert len(response.json()["data"]) == 15


def test_every_response_carries_request_id(client, auth):
    assert client.get(BASE, **auth)["x-request-id"].startswith("req_")
