"""Helpers for the ``Idempotency-Key`` tests: the header, the route most of them create on,
and a key claimed as a request still running would claim it."""

from conversations.http import idempotency

ROUTE = "/openai/v1/conversations"


def key_header(key):
    return {"Idempotency-Key": key}


def claim_like_a_running_request(project, route, key, body):
    return idempotency.claim(
        project=project,
        isolation_key="",
        method="POST",
        route=route,
        key=key,
        request_fingerprint=idempotency.fingerprint([], body),
    )
