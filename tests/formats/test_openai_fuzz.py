"""Property test: no JSON body sent to the OpenAI routes gets a 500, and refusals store nothing."""

import json
from http import HTTPStatus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations.domain.ids import parse_id
from conversations.models import Conversation

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=70), children, max_size=18)
    ),
    max_leaves=30,
)
bodies = (
    st.dictionaries(st.sampled_from(["metadata", "items", "extra"]), json_values, max_size=3)
    | json_values
)


@pytest.mark.django_db
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies, metadata=json_values)
def test_arbitrary_bodies_never_500(client, api_key, body, metadata):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    before = Conversation.objects.count()
    response = client.post(
        "/openai/v1/conversations", data=json.dumps(body), content_type="application/json", **auth
    )
    assert response.status_code in (HTTPStatus.OK, HTTPStatus.BAD_REQUEST), response.content
    if response.status_code == HTTPStatus.BAD_REQUEST:
        assert Conversation.objects.count() == before
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
        return
    conv_id = response.json()["id"]
    response = client.post(
        f"/openai/v1/conversations/{conv_id}",
        data=json.dumps({"metadata": metadata}),
        content_type="application/json",
        **auth,
    )
    assert response.status_code in (HTTPStatus.OK, HTTPStatus.BAD_REQUEST), response.content
    stored = Conversation.objects.get(pk=parse_id(conv_id)).metadata
    assert len(stored) <= 16
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in stored.items())
