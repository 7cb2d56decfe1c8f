"""Idempotent creates: the ``Idempotency-Key`` request header
(draft-ietf-httpapi-idempotency-key-header).

A client that retries a create POST with the same key gets the first answer again instead of
a second conversation or message. The rules, the same in every format:

- A key is 1–:data:`MAX_KEY_LENGTH` characters (a Structured Field string ``"…"`` or bare);
  anything else raises :class:`IdempotencyKeyInvalid` (400).
- Keys are scoped to ``(project, isolation key, method, route)``: the same key on another
  route, or from another partition, is another key.
- The request's *fingerprint* is the SHA-256 of its query string and its JSON body in
  canonical form (sorted keys), so a re-serialised body still matches.
- :func:`claim` runs in its own short transaction before the view: the first request inserts
  the key row as a claim held until ``now + CONVSTORE_IDEMPOTENCY_LEASE_SECONDS``; a request
  arriving while it runs gets :class:`IdempotencyKeyInUse` (409, ``Retry-After``), one with
  another body :class:`IdempotencyKeyReused` (422). Once answered, the same body gets
  :class:`Stored` back: the first status, body and ``ETag``, replayed with
  ``Idempotent-Replayed: true``, and nothing is written.
- :func:`complete` stores a 2xx answer **in the same transaction as the write**, and only if
  the claim is still this request's, so a write and its stored answer commit together or not
  at all. :func:`release` deletes the claim after a 4xx/5xx or an exception (the write rolled
  back), so a corrected retry runs afresh. A process killed mid-request left its write
  uncommitted; its claim frees itself when the lease runs out.
- Keys live ``CONVSTORE_IDEMPOTENCY_TTL_SECONDS`` (24 hours) from their first use; an expired
  key is a new key. ``manage.py purge_idempotency_keys`` (:func:`idempotency_keys_purge`)
  deletes expired rows.

A format's create action honours the header by being decorated with :func:`idempotent`:
without the header the action runs as before; with it, the key is claimed first, a stored
answer is replayed (the action does not run, nothing is written), otherwise the action runs
inside one transaction together with storing its answer (2xx only); a 4xx/5xx answer or an
exception rolls the action back and frees the key. Errors (400 bad key, 409 in progress, 422
other body) are exceptions each format's ``errors.py`` words.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from conversations.models import IdempotencyKey, Project

MAX_KEY_LENGTH = 255
#: Response headers stored with the answer and replayed (besides ``Content-Type``).
STORED_HEADERS = ("ETag",)
#: Seconds a 409 asks the client to wait (``Retry-After``).
RETRY_AFTER_SECONDS = 1


class IdempotencyKeyInvalid(Exception):
    """The ``Idempotency-Key`` header is empty or longer than 255 characters (400)."""

    def __init__(self, length: int):
        super().__init__(
            f"The Idempotency-Key header must hold 1 to {MAX_KEY_LENGTH} characters; it holds "
            f"{length}."
        )


class IdempotencyKeyInUse(Exception):
    """A request with this key is still running (409); retry after ``retry_after`` seconds."""

    retry_after = RETRY_AFTER_SECONDS

    def __init__(self):
        super().__init__(
            "A request with this Idempotency-Key is still being processed. Retry shortly to get "
            "its answer."
        )


class IdempotencyKeyReused(Exception):
    """The key was first used with another request body or query (422)."""

    def __init__(self):
        super().__init__(
            "This Idempotency-Key was already used with a different request (another body or "
            "query). Use a new key for a new request."
        )


@dataclass(frozen=True)
class Claim:
    """This request holds the key: run the write, then :func:`complete` or :func:`release`."""

    pk: int
    token: uuid.UUID


@dataclass(frozen=True)
class Stored:
    """The first answer to this key: replay it (status, body bytes, headers)."""

    status_code: int
    body: bytes
    headers: dict[str, str]


def parse_key(raw: str) -> str:
    """The key of an ``Idempotency-Key`` value: a Structured Field string (``"abc"``) or bare.

    Raises:
        IdempotencyKeyInvalid: empty, or longer than :data:`MAX_KEY_LENGTH` characters.
    """
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise IdempotencyKeyInvalid(len(key))
    return key


def fingerprint(query: list[tuple[str, str]], body: Any) -> str:
    """SHA-256 hex of the sorted query pairs and the canonical JSON of the parsed body."""
    canonical = json.dumps(
        [sorted(query), body], sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _scope(project: Project, isolation_key: str, method: str, route: str, key: str) -> str:
    parts = [str(project.pk), isolation_key, method, route, key]
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _lease() -> timedelta:
    return timedelta(seconds=settings.CONVSTORE_IDEMPOTENCY_LEASE_SECONDS)


def claim(
    *,
    project: Project,
    isolation_key: str,
    method: str,
    route: str,
    key: str,
    request_fingerprint: str,
) -> Claim | Stored:
    """Claim ``key`` for this request, or find the answer it already got.

    Runs and commits its own transaction (call it outside any other). Returns a
    :class:`Claim` (go ahead) or a :class:`Stored` answer (replay it).

    Raises:
        IdempotencyKeyReused: the key's first request had another fingerprint (422).
        IdempotencyKeyInUse: the key's first request is still running (409).
    """
    now = timezone.now()
    scope = _scope(project, isolation_key, method, route, key)
    fresh = {
        "fingerprint": request_fingerprint,
        "token": uuid.uuid4(),
        "locked_until": now + _lease(),
        "status_code": None,
        "response_body": None,
        "response_headers": {},
        "created_at": now,
        "expires_at": now + timedelta(seconds=settings.CONVSTORE_IDEMPOTENCY_TTL_SECONDS),
    }
    with transaction.atomic():
        row = IdempotencyKey.objects.select_for_update().filter(scope=scope).first()
        if row is None:
            try:
                with transaction.atomic():
                    row = IdempotencyKey.objects.create(
                        project=project,
                        isolation_key=isolation_key,
                        method=method,
                        route=route[:1024],
                        key=key,
                        scope=scope,
                        **fresh,
                    )
            except IntegrityError:  # A concurrent first request inserted it a moment ago.
                raise IdempotencyKeyInUse() from None
            return Claim(pk=row.pk, token=row.token)
        if row.expires_at <= now:  # An expired key is a new key.
            return _reclaim(row, fresh)
        if row.fingerprint != request_fingerprint:
            raise IdempotencyKeyReused()
        if row.status_code is not None:
            return Stored(row.status_code, bytes(row.response_body or b""), row.response_headers)
        if row.locked_until is not None and row.locked_until > now:
            raise IdempotencyKeyInUse()
        # The first request died without an answer (its write rolled back): take over.
        return _reclaim(row, {"token": fresh["token"], "locked_until": fresh["locked_until"]})


def _reclaim(row: IdempotencyKey, values: dict) -> Claim:
    for name, value in values.items():
        setattr(row, name, value)
    row.save(update_fields=list(values))
    return Claim(pk=row.pk, token=row.token)


def complete(claim_: Claim, *, status_code: int, body: bytes, headers: dict[str, str]) -> None:
    """Store the answer of a successful write; call it inside the write's transaction.

    Raises:
        IdempotencyKeyInUse: the lease ran out and another request took the key over; raising
            rolls this request's write back, so only one of them commits.
    """
    stored = IdempotencyKey.objects.filter(pk=claim_.pk, token=claim_.token).update(
        status_code=status_code,
        response_body=body,
        response_headers=headers,
        locked_until=None,
    )
    if not stored:
        raise IdempotencyKeyInUse()


def release(claim_: Claim) -> None:
    """Free the key after a request that wrote nothing (4xx, 5xx, an exception)."""
    IdempotencyKey.objects.filter(
        pk=claim_.pk, token=claim_.token, status_code__isnull=True
    ).delete()


def idempotency_keys_purge(*, now: datetime | None = None, dry_run: bool = False) -> int:
    """Delete (or with ``dry_run`` only count) keys past ``expires_at``; returns how many."""
    expired = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now())
    if dry_run:
        return expired.count()
    deleted, _ = expired.delete()
    return deleted


REPLAYED_HEADER = "Idempotent-Replayed"


class _NotStored(Exception):
    def __init__(self, response):
        super().__init__(response.status_code)
        self.response = response


def idempotent(action):
    """Make a create action honour ``Idempotency-Key`` (see the module docstring). Example, on
    a viewset::

        @idempotent
        def create(self, request): ...
    """

    @functools.wraps(action)
    def wrapper(self, request, *args, **kwargs):
        raw = request.META.get("HTTP_IDEMPOTENCY_KEY")
        if raw is None:
            return action(self, request, *args, **kwargs)
        key = parse_key(raw)
        partition = self.partition
        outcome = claim(
            project=partition.project,
            isolation_key=partition.isolation_key,
            method=request.method,
            route=request.path,
            key=key,
            request_fingerprint=fingerprint(
                list(request.query_params.lists()), request.data
            ),
        )
        if isinstance(outcome, Stored):
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
                    for name in STORED_HEADERS
                    if response.has_header(name)
                )
                complete(
                    outcome,
                    status_code=response.status_code,
                    body=JSONRenderer().render(response.data),
                    headers=headers,
                )
        except _NotStored as not_stored:
            release(outcome)
            return not_stored.response
        except BaseException:
            release(outcome)
            raise
        return response

    return wrapper
