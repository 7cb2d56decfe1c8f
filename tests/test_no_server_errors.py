"""Property test across every format: no body, id or query gets a 500, and refusals store nothing.

The contract: "A 500 is a bug on every route and for every input." Hypothesis sends arbitrary
JSON bodies to every write route, and odd ids and query strings to every read route.
"""

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations.domain.ids import prefixed
from conversations.models import Conversation, Message, MetadataChange
from conversations.services import SYSTEM, conversation_create

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=70), children, max_size=18)
    ),
    max_leaves=25,
)
field_names = st.sampled_from(
    [
        "metadata",
        "items",
        "name",
        "role",
        "content",
        "sent_at",
        "tool_calls",
        "tool_call_id",
        "conversation_id",
        "group_name",
        "stream",
        "extra",
    ]
)
bodies = st.dictionaries(field_names, json_values, max_size=4) | json_values

# (method, path template); {id} is the seeded conversation's id in the format's own form.
WRITE_ROUTES = [
    ("post", "/openai/v1/conversations"),
    ("post", "/openai/v1/conversations/{conv}"),
    ("post", "/openai/v1/conversations/{conv}/items"),
    ("post", "/azure/openai/v1/conversations/{conv}"),
    ("post", "/telnyx/v2/ai/conversations"),
    ("put", "/telnyx/v2/ai/conversations/{uuid}"),
    ("post", "/telnyx/v2/ai/conversations/{uuid}/message"),
    ("post", "/telnyx/v2/ai/assistants/a1/chat"),
    ("patch", "/agentphone/v1/conversations/{conv}"),
]
READ_ROUTES = [
    "/openai/v1/conversations/{id}",
    "/openai/v1/conversations?{query}",
    "/azure/openai/v1/conversations?{query}",
    "/openai/v1/conversations/{id}/items?{query}",
    "/telnyx/v2/ai/conversations?{query}",
    "/telnyx/v2/ai/conversations/{id}/messages?{query}",
    "/agentphone/v1/conversations?{query}",
    "/agentphone/v1/conversations/{id}?{query}",
    "/agentphone/v1/conversations/{id}/messages?{query}",
]
HYPOTHESIS = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def seeded(project, api_key, settings):
    settings.CONVSTORE_CHAT_RESPONDER = "conversations.formats.telnyx.responders.echo"
    conversation = conversation_create(project=project, metadata={"keep": "me"}, actor=SYSTEM)
    return {
        "auth": {"HTTP_AUTHORIZATION": f"Bearer {api_key}"},
        "conv": prefixed(conversation.id, "conv"),
        "uuid": str(conversation.id),
        "pk": conversation.pk,
    }


def snapshot(pk):
    """What a refused request must not change."""
    conversation = Conversation.objects.get(pk=pk)
    return (
        conversation.metadata,
        Message.objects.count(),
        MetadataChange.objects.count(),
        Conversation.objects.count(),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "template"), WRITE_ROUTES)
@HYPOTHESIS
@given(body=bodies)
def test_write_routes_never_500_and_refusals_store_nothing(client, seeded, method, template, body):
    path = template.format(**seeded)
    if isinstance(body, dict) and "conversation_id" in body and "chat" in path:
        body["conversation_id"] = seeded["uuid"]
    before = snapshot(seeded["pk"])
    response = getattr(client, method)(
        path, data=json.dumps(body), content_type="application/json", **seeded["auth"]
    )
    assert response.status_code < 500, (path, body, response.content)
    if response.status_code >= 400:
        assert snapshot(seeded["pk"]) == before, (path, body, response.content)
    stored = Conversation.objects.get(pk=seeded["pk"]).metadata or {}
    assert len(stored) <= 16
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in stored.items())


@pytest.mark.django_db
@pytest.mark.parametrize("template", READ_ROUTES)
@HYPOTHESIS
@given(
    conversation_id=st.text(min_size=1, max_size=60).filter(lambda s: "/" not in s),
    query=st.dictionaries(
        st.sampled_from(
            [
                "limit",
                "offset",
                "after",
                "before",
                "order",
                "message_limit",
                "page[number]",
                "page[size]",
                "metadata->k",
                "name",
                "created_at",
                "or",
                "id",
                "include[]",
                "agent_id",
                "agent_name",
                "metadata[k]",
            ]
        ),
        st.text(max_size=30),
        max_size=4,
    ),
)
def test_read_routes_never_500(client, seeded, template, conversation_id, query):
    from urllib.parse import quote, urlencode

    path = template.format(id=quote(conversation_id, safe=""), query=urlencode(query))
    response = client.get(path, **seeded["auth"])
    assert response.status_code < 500, (path, response.content)


def nested_text(depth: int, leaf) -> str:
    """JSON text of ``leaf`` wrapped ``depth`` times, alternating ``{"metadata": …}`` and
    ``[…]`` (built as text: ``json.dumps`` itself would recurse too deep)."""
    opens = "".join('{"metadata":' if level % 2 else "[" for level in range(depth))
    closes = "".join("}" if level % 2 else "]" for level in reversed(range(depth)))
    return opens + json.dumps(leaf) + closes


ALL_ROUTES = [*WRITE_ROUTES, *(("get", template) for template in READ_ROUTES)]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "template"), ALL_ROUTES)
@HYPOTHESIS
@given(
    body=st.one_of(
        bodies.map(json.dumps),
        st.builds(nested_text, st.integers(min_value=1, max_value=3000), json_values),
    ),
    transfer=st.sampled_from(["content-length", "chunked", "chunked-unreadable"]),
)
def test_chunked_and_deep_bodies_never_500_on_any_route(
    client, seeded, method, template, body, transfer
):
    """Every route, with arbitrary and deeply nested bodies, sent with a Content-Length or
    chunked: as gunicorn presents it (``wsgi.input_terminated``, read under the limit) or as
    the development server does (unreadable: 411)."""
    import io
    from urllib.parse import quote

    path = template.format(**seeded, id=quote(seeded["conv"], safe=""), query="limit=5")
    data = body.encode()
    extra = dict(seeded["auth"])
    if transfer != "content-length":
        extra.update(HTTP_TRANSFER_ENCODING="chunked", CONTENT_LENGTH="")
        extra["wsgi.input"] = io.BytesIO(data)
        if transfer == "chunked":
            extra["wsgi.input_terminated"] = True
    before = snapshot(seeded["pk"])
    response = client.generic(method.upper(), path, data, content_type="application/json", **extra)
    assert response.status_code < 500, (path, transfer, body[:200], response.content[:300])
    if transfer == "chunked-unreadable":
        assert response.status_code == 411, (path, response.content[:300])
    if response.status_code >= 400:
        assert snapshot(seeded["pk"]) == before, (path, transfer, response.content[:300])
