"""``Idempotency-Key`` for a format's create actions (the rules:
:mod:`conversations.http.idempotency`).

Decorate a viewset action with :func:`idempotent`. Without the header the action runs as
before. With it, the key is claimed first; a stored answer is replayed byte for byte with
``Idempotent-Replayed: true`` (the action does not run, nothing is written); otherwise the
action runs inside one transaction together with storing its answer (2xx only). A 4xx/5xx
answer or an exception rolls the action back and frees the key. Errors (400 bad key, 409 in
progress, 422 other body) are core exceptions each format's ``errors.py`` words.
"""

from __future__ import annotations

import functools

from django.db import transaction
from django.http import HttpResponse
from rest_framework.renderers import JSONRenderer

from conversations.http import idempotency

REPLAYED_HEADER = "Idempotent-Replayed"


class _NotStored(Exception):
    def __init__(self, response):
        super().__init__(response.status_code)
        self.response = response


def idempotent(action):
    """Make a create action honour ``Idempotency-Key`` (see the module docstring)."""

    @functools.wraps(action)
    def wrapper(self, request, *args, **kwargs):
        raw = request.META.get("HTTP_IDEMPOTENCY_KEY")
        if raw is None:
            return action(self, request, *args, **kwargs)
        key = idempotency.parse_key(raw)
        partition = self.partition
        outcome = idempotency.claim(
            project=partition.project,
            isolation_key=partition.isolation_key,
            method=request.method,
            route=request.path,
            key=key,
            request_fingerprint=idempotency.fingerprint(
                list(request.query_params.lists()), request.data
            ),
        )
        if isinstance(outcome, idempotency.Stored):
            response = HttpResponse(outcome.body, status=outcome.status_code)
            for name, value in outcome.headers.items():
                response[name] = value
            response[REPLAYED_HEADER] = "true"
            return response
        try:
            with transaction.atomic():
                response = action(self, request, *args, **kwargs)
                if not 200 <= response.status_code < 300:
                    raise _NotStored(response)
                headers = {"Content-Type": "application/json"}
                headers.update(
                    (name, response[name])
                    for name in idempotency.STORED_HEADERS
                    if response.has_header(name)
                )
                idempotency.complete(
                    outcome,
                    status_code=response.status_code,
                    body=JSONRenderer().render(response.data),
                    headers=headers,
                )
        except _NotStored as not_stored:
            idempotency.release(outcome)
            return not_stored.response
        except BaseException:
            idempotency.release(outcome)
            raise
        return response

    return wrapper
