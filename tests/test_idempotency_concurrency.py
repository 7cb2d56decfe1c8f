"""Concurrent requests with one ``Idempotency-Key`` make one conversation; the stored answer
commits with the write, so a key taken over mid-request rolls the write back."""

import threading
from http import HTTPStatus

import httpx
import openai
import pytest
from django.db import connection
from django.db.models.signals import post_save

from conversations.http import idempotency
from conversations.models import Conversation, IdempotencyKey, MetadataChange
from tests.idempotency_keys import ROUTE, claim_like_a_running_request, key_header


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
