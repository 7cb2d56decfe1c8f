"""Idempotent creates (``Idempotency-Key``) in every format, through the SDKs and plain HTTP."""

import threading
from datetime import timedelta
from http import HTTPStatus
from io import StringIO

import httpx
import openai
import pytest
import telnyx
from django.core.management import call_command
from django.db import connection
from django.db.models.signals import post_save
from django.utils import timezone

from conversations.http import idempotency
from conversations.models import Conversation, IdempotencyKey, Message, MetadataChange

ECHO = "conversations.formats.telnyx.responders.echo"
ROUTE = "/openai/v1/conversations"


def failing_responder(conversation, message):
    """A responder that crashes after the user message was written."""
    raise RuntimeError("model backend down")


def key_header(key):
    return {"Idempotency-Key": key}


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


# --- running, crashed and expired first requests ----------------------------------------


def claim_like_a_running_request(project, route, key, body):
    return idempotency.claim(
        project=project,
        isolation_key="",
        method="POST",
        route=route,
        key=key,
        request_fingerprint=idempotency.fingerprint([], body),
    )


def test_a_key_whose_first_request_is_running_answers_409_then_is_taken_over(
    openai_client, project
):
    claim_like_a_running_request(project, "/openai/v1/conversations", "busy", {})
    with pytest.raises(openai.ConflictError) as info:
        openai_client.conversations.create(extra_headers=key_header("busy"))
    assert info.value.response.headers["retry-after"] == "1"
    assert info.value.code == "idempotency_key_in_use"
    assert Conversation.objects.count() == 0

    # The first request's process died: once its lease runs out the key is free again.
    IdempotencyKey.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
    created = openai_client.conversations.with_raw_response.create(extra_headers=key_header("busy"))
    assert created.status_code == HTTPStatus.OK and Conversation.objects.count() == 1


def test_telnyx_answers_409_in_its_envelope(http, project):
    claim_like_a_running_request(project, "/telnyx/v2/ai/conversations", "busy", {})
    response = http.post("/telnyx/v2/ai/conversations", json={}, headers=key_header("busy"))
    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json()["errors"][0]["title"] == "Conflict"
    assert response.headers["retry-after"] == "1"


def test_a_claim_taken_over_after_its_lease_cannot_store_its_answer(project):
    first = claim_like_a_running_request(project, "/r", "k", {})
    IdempotencyKey.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
    second = claim_like_a_running_request(project, "/r", "k", {})
    with pytest.raises(idempotency.IdempotencyKeyInUse):
        idempotency.complete(first, status_code=200, body=b"{}", headers={})
    idempotency.complete(second, status_code=200, body=b"{}", headers={})
    assert isinstance(claim_like_a_running_request(project, "/r", "k", {}), idempotency.Stored)


def test_expired_keys_are_new_keys_and_purged_by_their_command(openai_client, project):
    first = openai_client.conversations.create(extra_headers=key_header("old"))
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    out = StringIO()
    call_command("purge_idempotency_keys", "--dry-run", stdout=out)
    assert "Would delete 1 expired" in out.getvalue() and IdempotencyKey.objects.count() == 1
    second = openai_client.conversations.create(extra_headers=key_header("old"))
    assert second.id != first.id  # The expired key was claimed afresh.

    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    fresh = claim_like_a_running_request(project, "/other", "new", {})
    call_command("purge_idempotency_keys", stdout=out)
    assert "Deleted 1 expired" in out.getvalue()
    assert list(IdempotencyKey.objects.values_list("pk", flat=True)) == [fresh.pk]


def test_keys_expire_24_hours_after_first_use(openai_client):
    before = timezone.now()
    openai_client.conversations.create(extra_headers=key_header("ttl"))
    after = timezone.now()
    row = IdempotencyKey.objects.get()
    assert before + timedelta(hours=24) <= row.expires_at <= after + timedelta(hours=24)


# --- concurrency ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_sdk_creates_with_one_key_make_one_conversation(live_server, api_key):
    barrier = threading.Barrier(8)
    bodies = [None] * 8

    def create(index):
        # The SDK retries a 409 after its Retry-After, so each thread ends with the answer.
        client = openai.OpenAI(
            base_url=f"{live_server.url}/openai/v1", api_key=api_key, max_retries=8
        )
        barrier.wait()
        try:
            bodies[index] = client.conversations.with_raw_response.create(
                metadata={"who": "everyone"}, extra_headers=key_header("eight")
            ).http_response.content
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Conversation.objects.count() == 1
    assert len(set(bodies)) == 1 and bodies[0] is not None
    assert MetadataChange.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_plain_http_creates_make_one_conversation(live_server, api_key):
    barrier = threading.Barrier(8)
    answers = [None] * 8

    def create(index):
        with httpx.Client(
            base_url=live_server.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60
        ) as client:
            barrier.wait()
            response = client.post(
                "/telnyx/v2/ai/conversations", json={"name": "x"}, headers=key_header("eight")
            )
            answers[index] = (response.status_code, response.content)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Conversation.objects.count() == 1
    assert {status for status, _ in answers} <= {HTTPStatus.OK, HTTPStatus.CONFLICT}
    ok_bodies = {body for status, body in answers if status == HTTPStatus.OK}
    assert len(ok_bodies) == 1


# --- the stored answer commits with the write ------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_write_whose_key_was_taken_over_mid_request_rolls_back(http, project, settings):
    """The answer is stored in the write's own transaction: when storing it is refused (the
    lease ran out and another request took the key over while this one was writing), the
    write rolls back with it and the client gets 409; nothing of the first request remains."""
    settings.CONVSTORE_IDEMPOTENCY_LEASE_SECONDS = 0  # every claim is over as soon as it is made
    took_over = []

    def take_over(sender, instance, created, **kwargs):
        if created and not took_over:  # the write is running: another request claims the key
            took_over.append(claim_like_a_running_request(project, ROUTE, "late", {}))

    post_save.connect(take_over, sender=Conversation, dispatch_uid="test-take-over")
    try:
        response = http.post(ROUTE, json={}, headers=key_header("late"))
    finally:
        post_save.disconnect(sender=Conversation, dispatch_uid="test-take-over")
    assert isinstance(took_over[0], idempotency.Claim)
    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json()["error"]["code"] == "idempotency_key_in_use"
    assert not Conversation.objects.exists()
    assert not IdempotencyKey.objects.filter(status_code__isnull=False).exists()


def test_the_query_string_is_part_of_the_request(openai_client, http):
    conv = openai_client.conversations.create()
    items = [{"role": "user", "content": "once"}]
    url, headers = f"/openai/v1/conversations/{conv.id}/items", key_header("q")
    include = "include=message.output_text.logprobs"  # a value the items route accepts
    first = http.post(f"{url}?{include}&limit=1", json={"items": items}, headers=headers)
    assert first.status_code == HTTPStatus.OK
    # The same parameters in another order are the same request: its answer is replayed.
    again = http.post(f"{url}?limit=1&{include}", json={"items": items}, headers=headers)
    assert again.headers["idempotent-replayed"] == "true" and again.content == first.content
    for other in (f"?{include}&limit=2", f"?{include}", ""):
        refused = http.post(f"{url}{other}", json={"items": items}, headers=headers)
        assert refused.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
        assert refused.json()["error"]["code"] == "idempotency_key_reused"
    assert Message.objects.count() == 1


# --- the rules one by one (found by mutation testing: docs/mutation-testing.md) ---------------


def test_json_key_order_does_not_make_another_request(http):
    headers = key_header("order")
    first = http.post(ROUTE, json={"metadata": {"a": "1", "b": "2"}}, headers=headers)
    again = http.post(
        ROUTE,
        content=b'{"metadata": {"b": "2", "a": "1"}}',
        headers={"content-type": "application/json", **headers},
    )
    assert first.status_code == again.status_code == HTTPStatus.OK
    assert again.headers["idempotent-replayed"] == "true" and again.content == first.content


def test_a_lone_surrogate_in_the_body_is_refused_not_a_500(http):
    response = http.post(
        ROUTE,
        content=b'{"metadata": {"k": "\\ud800"}}',
        headers={"content-type": "application/json", **key_header("surrogate")},
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_an_over_long_route_is_cut_to_its_column(http):
    response = http.post(
        f"{ROUTE}/conv_{'a' * 1100}/items",
        json={"items": [{"role": "user", "content": "hi"}]},
        headers=key_header("long"),
    )
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert not IdempotencyKey.objects.exists()  # the 404 freed the key


@pytest.mark.parametrize(
    ("raw", "key"),
    [('"a\\"b\\\\c"', 'a"b\\c'), ('"x"', "x"), ("  bare ", "bare"), ('"', '"')],
)
def test_structured_field_strings_are_unescaped(raw, key):
    assert idempotency.parse_key(raw) == key


@pytest.mark.parametrize("raw", ['""', "", "   ", "k" * 256])
def test_empty_or_over_long_keys_are_invalid_with_their_length(raw):
    with pytest.raises(idempotency.IdempotencyKeyInvalid) as info:
        idempotency.parse_key(raw)
    length = 0 if raw.strip() in ("", '""') else 256
    assert str(info.value) == (
        f"The Idempotency-Key header must hold 1 to 255 characters; it holds {length}."
    )


def test_the_error_messages_say_what_to_do():
    assert str(idempotency.IdempotencyKeyInUse()) == (
        "A request with this Idempotency-Key is still being processed. Retry shortly to get "
        "its answer."
    )
    assert str(idempotency.IdempotencyKeyReused()) == (
        "This Idempotency-Key was already used with a different request (another body or "
        "query). Use a new key for a new request."
    )


def test_the_stored_status_is_replayed(project):
    claim = claim_like_a_running_request(project, "/r", "201", {})
    idempotency.complete(claim, status_code=201, body=b"{}", headers={"ETag": '"x.1"'})
    stored = claim_like_a_running_request(project, "/r", "201", {})
    assert stored == idempotency.Stored(201, b"{}", {"ETag": '"x.1"'})
    row = IdempotencyKey.objects.get()  # what the admin shows of it
    assert (row.isolation_key, row.method, row.route, row.key) == ("", "POST", "/r", "201")


def test_release_frees_only_its_own_claim(project):
    first = claim_like_a_running_request(project, "/r", "k", {})
    IdempotencyKey.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
    second = claim_like_a_running_request(project, "/r", "k", {})
    idempotency.release(first)  # the first request gives up after it lost the key
    assert list(IdempotencyKey.objects.values_list("token", flat=True)) == [second.token]
    idempotency.complete(second, status_code=200, body=b"{}", headers={})
    idempotency.release(second)  # an answered key is never released
    assert IdempotencyKey.objects.filter(status_code=200).exists()


def test_purging_deletes_by_default(project):
    claim_like_a_running_request(project, "/r", "old", {})
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert idempotency.idempotency_keys_purge() == 1
    assert not IdempotencyKey.objects.exists()
