"""The ``Idempotency-Key`` rules one by one (most found by mutation testing:
docs/mutation-testing.md): what makes another request, key syntax, the messages, and the
stored rows."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone

from conversations.http import idempotency
from conversations.models import IdempotencyKey, Message
from tests.idempotency_keys import ROUTE, claim_like_a_running_request, key_header


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


def test_the_claim_records_its_partition_method_route_and_key(project):
    idempotency.claim(
        project=project,
        isolation_key="user-42",
        method="POST",
        route="/azure/openai/v1/conversations",
        key="k",
        request_fingerprint=idempotency.fingerprint([], {}),
    )
    row = IdempotencyKey.objects.get()  # what the admin shows of it
    assert (row.project, row.isolation_key, row.method, row.route, row.key) == (
        project,
        "user-42",
        "POST",
        "/azure/openai/v1/conversations",
        "k",
    )


def test_a_route_longer_than_its_column_is_recorded_cut_and_still_scopes_the_key(project):
    long_route = "/openai/v1/conversations/" + "r" * 1500
    claim = claim_like_a_running_request(project, long_route, "k", {})
    assert len(IdempotencyKey.objects.get(pk=claim.pk).route) == 1024
    other = claim_like_a_running_request(project, long_route[:1024], "k", {})
    assert other.pk != claim.pk  # the scope hashes the whole route, not the cut one
