"""Telnyx error shapes for bad input, on every route (Django's test client; a 500 is a bug)."""

import json
import uuid
from http import HTTPStatus

import pytest

from conversations import services
from conversations.models import Conversation, Message

BASE = "/telnyx/v2/ai/conversations"
NOT_FOUND = {
    "errors": [{"code": "10005", "title": "Resource not found", "detail": "Conversation Not Found"}]
}


@pytest.fixture
def http(client, api_key):
    """Django's test client with the project's key; ``http.call(method, path, body=None)``."""

    def call(method, path, body=None, raw=None, **headers):
        kwargs = {"HTTP_AUTHORIZATION": f"Bearer {api_key}", **headers}
        if raw is not None or body is not None:
            kwargs["data"] = raw if raw is not None else json.dumps(body)
            kwargs["content_type"] = "application/json"
        return getattr(client, method.lower())(path, **kwargs)

    client.call = call
    return client


@pytest.fixture
def conversation(http):
    return http.call("POST", BASE, {"metadata": {"k": "v"}}).json()


def test_missing_key_answers_telnyx_401(client, db):
    response = client.get(BASE)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    error = response.json()["errors"][0]
    assert error["code"] == "10009" and error["title"] == "Authentication failed"


def test_unknown_path_answers_telnyx_404(http):
    response = http.call("GET", "/telnyx/v2/ai/nothing/here")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["errors"][0]["code"] == "10005"


@pytest.mark.parametrize(
    "bad_id",
    ["abc", "0" * 32, "conv_" + "f" * 32, str(uuid.uuid4()), "x" * 300, "%00", "conv_%E2%82%AC"],
)
@pytest.mark.parametrize("suffix", ["", "/messages"])
def test_unknown_or_malformed_ids_are_not_found(http, bad_id, suffix):
    response = http.call("GET", f"{BASE}/{bad_id}{suffix}")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == NOT_FOUND


@pytest.mark.parametrize("form", ["dashed", "hex", "conv"])
def test_every_id_form_is_accepted(http, conversation, form):
    pk = uuid.UUID(conversation["id"])
    rendered = {"dashed": str(pk), "hex": pk.hex, "conv": f"conv_{pk.hex}"}[form]
    for method, path, body in [
        ("GET", f"{BASE}/{rendered}", None),
        ("PUT", f"{BASE}/{rendered}", {"metadata": {"x": "1"}}),
        ("POST", f"{BASE}/{rendered}/message", {"role": "user", "content": "hi"}),
        ("GET", f"{BASE}/{rendered}/messages", None),
    ]:
        assert http.call(method, path, body).status_code == HTTPStatus.OK, (method, path)
    assert http.call("GET", f"{BASE}/{rendered}").json()["data"]["id"] == str(pk)


def test_not_found_on_every_conversation_route(http):
    missing = f"{BASE}/{uuid.uuid4()}"
    for method, path, body in [
        ("PUT", missing, {"metadata": {"a": "b"}}),
        ("DELETE", missing, None),
        ("POST", f"{missing}/message", {"role": "user", "content": "x"}),
    ]:
        response = http.call(method, path, body)
        assert (response.status_code, response.json()) == (404, NOT_FOUND), method


@pytest.mark.parametrize(
    ("metadata", "loc", "type_"),
    [
        ({"k": "v" * 513}, ["body", "metadata", "k"], "string_too_long"),
        ({"k" * 65: "v"}, ["body", "metadata", "k" * 65], "string_too_long"),
        ({"k": 1}, ["body", "metadata", "k"], "string_type"),
        ({"k": {"nested": "x"}}, ["body", "metadata", "k"], "string_type"),
        ({"ai_disabled": "maybe"}, ["body", "metadata", "ai_disabled"], "bool_parsing"),
        ({"": "v"}, ["body", "metadata", ""], "string_too_short"),
        ({f"k{i}": "v" for i in range(17)}, ["body", "metadata"], "too_long"),
        ("text", ["body", "metadata"], "dict_type"),
        (["a"], ["body", "metadata"], "dict_type"),
        ({"k": "a\u0000b"}, ["body", "metadata"], "value_error"),
    ],
)
def test_invalid_metadata_answers_fastapi_422(http, conversation, metadata, loc, type_):
    for method, path in [("POST", BASE), ("PUT", f"{BASE}/{conversation['id']}")]:
        response = http.call(method, path, {"metadata": metadata})
        assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY, method
        detail = response.json()["detail"]
        assert detail[0]["loc"] == loc and detail[0]["type"] == type_, detail
        assert detail[0]["msg"]
    assert http.call("GET", f"{BASE}/{conversation['id']}").json()["data"]["metadata"] == {"k": "v"}


def test_merge_past_sixteen_pairs_is_refused(http):
    created = http.call("POST", BASE, {"metadata": {f"k{i}": "v" for i in range(16)}}).json()
    response = http.call("PUT", f"{BASE}/{created['id']}", {"metadata": {"one_more": "v"}})
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["detail"][0]["loc"] == ["body", "metadata"]


def test_put_with_empty_or_missing_metadata_changes_nothing_even_when_cleared(http, project):
    conversation = services.conversation_create(
        project=project, metadata={"a": "b"}, actor=services.SYSTEM
    )
    services.conversation_metadata_replace(
        conversation=conversation, metadata=None, actor=services.SYSTEM
    )
    for body in ({}, {"metadata": {}}, {"metadata": None}):
        response = http.call("PUT", f"{BASE}/{conversation.pk}", body)
        assert response.json()["data"]["metadata"] == {}
    conversation.refresh_from_db()
    assert conversation.metadata is None


@pytest.mark.parametrize(
    ("method", "route", "raw", "loc_start"),
    [
        ("POST", "", "{not json", ["body"]),
        ("POST", "", "[1, 2]", ["body"]),
        ("POST", "", '{"name": 7}', ["body", "name"]),
        ("POST", "", '{"name": "x\\u0000"}', ["body", "name"]),
        ("PUT", "/{id}", '{"metadata": ', ["body"]),
        ("POST", "/{id}/message", "{}", ["body", "role"]),
        ("POST", "/{id}/message", '{"role": "robot"}', ["body", "role"]),
        ("POST", "/{id}/message", '{"role": "user", "content": 5}', ["body", "content"]),
        ("POST", "/{id}/message", '{"role": "user", "content": "a\\u0000"}', ["body", "content"]),
        ("POST", "/{id}/message", '{"role": "user", "sent_at": "soon"}', ["body", "sent_at"]),
        ("POST", "/{id}/message", '{"role": "user", "metadata": {"a": {}}}', ["body", "metadata"]),
        ("POST", "/{id}/message", '{"role": "user", "tool_calls": [1]}', ["body", "tool_calls"]),
        ("POST", "/{id}/message", '{"role": "user", "name": "' + "n" * 256 + '"}', ["body"]),
    ],
)
def test_malformed_bodies_answer_fastapi_422(http, conversation, method, route, raw, loc_start):
    path = BASE + route.format(id=conversation["id"])
    response = http.call(method, path, raw=raw)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY, response.content
    detail = response.json()["detail"]
    assert detail[0]["loc"][: len(loc_start)] == loc_start
    assert {"loc", "msg", "type"} <= set(detail[0])
    assert not Message.objects.exists()


@pytest.mark.parametrize("field", ["metadata", "tool_calls", "tool_choice"])
def test_non_finite_numbers_answer_422(http, conversation, field):
    value = {
        "metadata": '{"n": 1e400}',
        "tool_calls": '[{"x": 1e400}]',
        "tool_choice": '{"x": -1e400}',
    }[field]
    raw = f'{{"role": "user", "{field}": {value}}}'
    response = http.call("POST", f"{BASE}/{conversation['id']}/message", raw=raw)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert not Message.objects.exists()


def test_too_long_isolation_key_answers_422(http):
    response = http.call("POST", BASE, {}, HTTP_X_MS_USER_ISOLATION_KEY="x" * 257)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["detail"][0]["loc"] == ["header", "x-ms-user-isolation-key"]
    assert not Conversation.objects.exists()


def test_chat_with_a_malformed_conversation_id_is_not_found(http):
    path = "/telnyx/v2/ai/assistants/a1/chat"
    for bad in ["nope", "x" * 500, str(uuid.uuid4())]:
        response = http.call("POST", path, {"content": "hi", "conversation_id": bad})
        assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_chat_body_errors_answer_422(http, conversation):
    path = "/telnyx/v2/ai/assistants/a1/chat"
    response = http.call("POST", path, {"content": "hi"})
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["detail"][0] == {
        "loc": ["body", "conversation_id"],
        "msg": "This field is required.",
        "type": "missing",
    }
    response = http.call("POST", path, {"content": 1, "conversation_id": conversation["id"]})
    assert response.json()["detail"][0]["loc"] == ["body", "content"]


def test_too_large_body_answers_413(http, settings):
    settings.CONVSTORE_MAX_BODY_BYTES = 1000
    response = http.call("POST", BASE, {"name": "x" * 2000})
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert response.json()["errors"][0]["code"] == "10015"
    assert not Conversation.objects.exists()


def test_unsupported_method_answers_telnyx_envelope(http, conversation):
    response = http.call("PATCH", f"{BASE}/{conversation['id']}", {"metadata": {}})
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json()["errors"][0]["code"] == "10015"


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("page[size]=0", "page[size]"),
        ("page[size]=101", "page[size]"),
        ("page[number]=0", "page[number]"),
        ("page[number]=two", "page[number]"),
    ],
)
def test_bad_message_paging_answers_422(http, conversation, query, name):
    response = http.call("GET", f"{BASE}/{conversation['id']}/messages?{query}")
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["detail"][0]["loc"] == ["query", name]


def test_page_past_the_end_is_empty_with_meta(http, conversation):
    http.call("POST", f"{BASE}/{conversation['id']}/message", {"role": "user", "content": "a"})
    response = http.call("GET", f"{BASE}/{conversation['id']}/messages?page[number]=5")
    assert response.json() == {
        "data": [],
        "meta": {"page_number": 5, "page_size": 20, "total_pages": 1, "total_results": 1},
    }


def test_isolation_key_partitions_every_route(http):
    headers = {"HTTP_X_MS_USER_ISOLATION_KEY": "user-1"}
    created = http.call("POST", BASE, {"metadata": {"who": "u1"}}, **headers).json()
    assert http.call("GET", f"{BASE}/{created['id']}").status_code == HTTPStatus.NOT_FOUND
    assert http.call("GET", f"{BASE}?metadata->who=eq.u1").json() == {"data": []}
    listed = http.call("GET", f"{BASE}?metadata->who=eq.u1", **headers).json()["data"]
    assert [c["id"] for c in listed] == [created["id"]]
    other = http.call("GET", f"{BASE}/{created['id']}", HTTP_X_MS_USER_ISOLATION_KEY="user-2")
    assert other.status_code == HTTPStatus.NOT_FOUND


def test_other_project_sees_nothing(client, http, other_api_key, conversation):
    response = client.get(
        f"{BASE}/{conversation['id']}", HTTP_AUTHORIZATION=f"Bearer {other_api_key}"
    )
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    listed = client.get(BASE, HTTP_AUTHORIZATION=f"Bearer {other_api_key}").json()
    assert listed == {"data": []}


def test_updates_are_audited_as_telnyx(http, conversation):
    http.call("PUT", f"{BASE}/{conversation['id']}", {"metadata": {"ai_disabled": "true"}})
    change = Conversation.objects.get(pk=conversation["id"]).metadata_changes.first()
    assert (change.source, change.action, change.after) == (
        "telnyx",
        "merge",
        {"k": "v", "ai_disabled": "true"},
    )


@pytest.mark.parametrize(
    ("method", "route", "raw"),
    [
        ("POST", "", '{"name": "\\ud800"}'),
        ("POST", "", '{"metadata": {"k": "\\ud800"}}'),
        ("POST", "", '{"metadata": {"\\udfff": "v"}}'),
        ("PUT", "/{id}", '{"metadata": {"k": "a\\ud800"}}'),
        ("POST", "/{id}/message", '{"role": "user", "metadata": {"k": ["\\ud800"]}}'),
        ("POST", "/{id}/message", '{"role": "user", "tool_choice": {"\\ud800": 1}}'),
    ],
)
def test_lone_surrogates_answer_422(http, conversation, method, route, raw):
    response = http.call(method, BASE + route.format(id=conversation["id"]), raw=raw)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY, response.content
    assert response.json()["detail"][0]["loc"][0] == "body"


@pytest.mark.parametrize(
    "query",
    [
        "metadata-%3Ea%00b=eq.x",
        "or=(metadata->a%00b.eq.x)",
        "name=eq.%ED%A0%80",
        "metadata->k=eq.%FF%FE",
        "order=%00",
        "created_at=eq.%00",
    ],
)
def test_hostile_list_queries_never_fail(http, conversation, query):
    response = http.call("GET", f"{BASE}?{query}")
    assert response.status_code in (HTTPStatus.OK, HTTPStatus.UNPROCESSABLE_ENTITY)
