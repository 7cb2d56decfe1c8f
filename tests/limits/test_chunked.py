"""Bodies sent with ``Transfer-Encoding: chunked`` and no ``Content-Length`` are never dropped.

Before: a chunked create stored an empty conversation and a chunked PUT/PATCH changed
nothing, answering 200. Now gunicorn (which de-chunks, ``wsgi.input_terminated``) has the
body read under ``CONVSTORE_MAX_BODY_BYTES`` (over it: 413 in the format's shape), and Django's
development server (which cannot hand the body over) answers 411 in the format's shape.
Raw ``http.client`` requests, on every body route of every format.
"""

import json
from urllib.parse import urlsplit

import pytest

from conversations.models import Conversation, Message
from conversations.services import SYSTEM, conversation_create

from .routes import BODY_ROUTES, assert_error_shape, auth_headers, fill, valid_body
from .servers import gunicorn, request

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), gunicorn(threads=2) as address:
        yield address


def state(conversation):
    conversation.refresh_from_db()
    return conversation.metadata, Message.objects.filter(conversation=conversation).count()


@pytest.mark.parametrize(("fmt", "method", "template"), BODY_ROUTES)
def test_gunicorn_reads_a_chunked_body(server, project, api_key, fmt, method, template):
    conversation = conversation_create(project=project, metadata={"keep": "me"}, actor=SYSTEM)
    body = json.dumps(valid_body(template, conversation)).encode()
    status, _, payload = request(
        *server, method, fill(template, conversation), body=body,
        headers=auth_headers(fmt, api_key), chunked=True,
    )  # fmt: skip
    assert status == 200, payload
    if template.endswith("/conversations"):  # a create: the new conversation has the body
        created = Conversation.objects.exclude(pk=conversation.pk).get()
        assert created.metadata == {"via": "chunked"}
    elif "message" in template or "items" in template or "chat" in template:
        assert Message.objects.filter(conversation=conversation, content__contains="chunked")
    else:
        conversation.refresh_from_db()
        assert conversation.metadata.get("via") == "chunked", conversation.metadata


@pytest.mark.parametrize(("fmt", "method", "template"), BODY_ROUTES)
def test_gunicorn_refuses_a_chunked_body_over_the_limit_with_413(
    server, project, api_key, fmt, method, template
):
    conversation = conversation_create(project=project, metadata={"keep": "me"}, actor=SYSTEM)
    before = state(conversation), Conversation.objects.count()
    body = json.dumps({"metadata": {"pad": "x" * (1024 * 1024)}}).encode()
    status, _, payload = request(
        *server, method, fill(template, conversation), body=body,
        headers=auth_headers(fmt, api_key), chunked=True,
    )  # fmt: skip
    assert status == 413, payload
    assert_error_shape(fmt, status, payload)
    assert (state(conversation), Conversation.objects.count()) == before


@pytest.mark.parametrize(("fmt", "method", "template"), BODY_ROUTES)
def test_development_server_answers_411_in_the_formats_shape(
    live_server, project, api_key, fmt, method, template
):
    conversation = conversation_create(project=project, metadata={"keep": "me"}, actor=SYSTEM)
    before = state(conversation), Conversation.objects.count()
    url = urlsplit(live_server.url)
    body = json.dumps(valid_body(template, conversation)).encode()
    status, _, payload = request(
        url.hostname, url.port, method, fill(template, conversation), body=body,
        headers=auth_headers(fmt, api_key), chunked=True,
    )  # fmt: skip
    assert status == 411, payload
    assert_error_shape(fmt, status, payload)
    assert "Content-Length" in json.dumps(payload)
    assert (state(conversation), Conversation.objects.count()) == before


def test_content_length_bodies_still_work_on_both_servers(server, live_server, project, api_key):
    url = urlsplit(live_server.url)
    for host, port in (server, (url.hostname, url.port)):
        status, _, payload = request(
            host, port, "POST", "/openai/v1/conversations",
            body=b'{"metadata": {"a": "b"}}', headers=auth_headers("openai", api_key),
        )  # fmt: skip
        assert status == 200 and payload["metadata"] == {"a": "b"}
