"""Where a mistyped URL leads: slash redirects for the pages, JSON 404s under the API prefixes.

A page typed without its trailing slash (``/admin``, ``/docs``) redirects to it; a path under
a format's prefix but outside its base URL answers that format's own JSON 404, naming the base
URL an SDK needs, never Django's HTML page (which an SDK would put into its exception).
"""

from http import HTTPStatus

import pytest
import telnyx


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/admin", "/admin/"),
        ("/docs", "/docs/"),
        ("/docs/openai", "/docs/openai/"),
        ("/admin/conversations/conversation", "/admin/conversations/conversation/"),
    ],
)
def test_pages_without_their_trailing_slash_redirect_to_it(admin_client, path, target):
    response = admin_client.get(path)
    assert response.status_code == HTTPStatus.MOVED_PERMANENTLY
    assert response["Location"] == target


@pytest.mark.parametrize(
    "path", ["/openai/v1", "/telnyx/v2/ai/conversations/x/nothing", "/agentphone/v1"]
)
def test_api_paths_never_redirect_a_post(client, db, path):
    response = client.post(path, data="{}", content_type="application/json")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("path", "base"),
    [
        ("/openai/conversations", "/openai/v1"),
        ("/openai", "/openai/v1"),
        ("/openai/v2/conversations", "/openai/v1"),
        ("/azure/conversations", "/azure/openai/v1"),
        ("/azure", "/azure/openai/v1"),
    ],
)
def test_openai_paths_outside_the_base_url_answer_openai_404_naming_it(client, db, path, base):
    response = client.post(path, data="{}", content_type="application/json")
    assert response.status_code == HTTPStatus.NOT_FOUND
    error = response.json()["error"]
    assert error["message"] == (
        f"Invalid URL (POST {path}): the base URL of this API on this server is "
        f'http://testserver{base} (OpenAI(base_url="http://testserver{base}", api_key=KEY)).'
    )
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, None)


@pytest.mark.parametrize("path", ["/telnyx", "/telnyx/ai/conversations", "/telnyx/v1/x"])
def test_telnyx_paths_outside_the_base_url_answer_telnyx_404_naming_it(client, db, path):
    response = client.get(path)
    assert response.status_code == HTTPStatus.NOT_FOUND
    (error,) = response.json()["errors"]
    assert (error["code"], error["title"]) == ("10005", "Resource not found")
    assert (
        "the base URL of this API on this server is http://testserver/telnyx/v2"
        in (error["detail"])
    )


@pytest.mark.parametrize(
    "path", ["/agentphone", "/agentphone/conversations", "/agentphone/v1/v1/conversations"]
)
def test_agentphone_paths_outside_the_base_url_answer_fastapi_404_naming_it(client, db, path):
    response = client.get(path)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {
        "detail": "Not Found: the base URL of this API on this server is "
        'http://testserver/agentphone (AgentPhone(base_url="http://testserver/agentphone", '
        "api_key=KEY); the SDK adds /v1)."
    }


def test_telnyx_sdk_with_a_base_url_without_v2_gets_json_not_html(live_server, api_key):
    client = telnyx.Telnyx(api_key=api_key, base_url=f"{live_server.url}/telnyx", max_retries=0)
    with pytest.raises(telnyx.NotFoundError) as info:
        client.ai.conversations.list()
    assert "<html" not in str(info.value).lower()
    assert f"base URL of this API on this server is {live_server.url}/telnyx/v2" in str(info.value)
