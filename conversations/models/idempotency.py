"""Stored answers of idempotent creates (``Idempotency-Key``)."""

import uuid

from django.db import models
from django.utils import timezone

from conversations.models.projects import Project


class IdempotencyKey(models.Model):
    """A client's ``Idempotency-Key`` on a create POST, and the first answer it got.

    Scoped to ``(project, isolation key, method, route, key)``; ``scope`` is the SHA-256 of
    that tuple, so the unique index stays small whatever the path length. A row is first a
    *claim* (``status_code`` empty, held by ``token`` until ``locked_until``), written in its
    own transaction so concurrent requests see it; the answer is stored in the same
    transaction as the write it describes (:mod:`conversations.http.idempotency`). Rows live until
    ``expires_at`` (24 hours by default); ``purge_idempotency_keys`` deletes expired ones.
    """

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="idempotency_keys", verbose_name="project"
    )
    isolation_key = models.CharField("isolation key", max_length=256, blank=True, default="")
    method = models.CharField("method", max_length=10)
    route = models.CharField(
        "route", max_length=1024, help_text="Request path (cut at 1024 characters for display)."
    )
    key = models.CharField("key", max_length=255)
    scope = models.CharField(
        "scope digest",
        max_length=64,
        unique=True,
        help_text="SHA-256 hex of (project, isolation key, method, route, key).",
    )
    fingerprint = models.CharField(
        "request fingerprint", max_length=64, help_text="SHA-256 hex of the query and JSON body."
    )
    token = models.UUIDField("claim token", default=uuid.uuid4)
    locked_until = models.DateTimeField(
        "claimed until", null=True, blank=True, help_text="Lease of a request still running."
    )
    status_code = models.PositiveSmallIntegerField(
        "HTTP status", null=True, blank=True, help_text="Empty while the first request runs."
    )
    response_body = models.BinaryField("response body", null=True, blank=True)
    response_headers = models.JSONField("response headers", default=dict, blank=True)
    created_at = models.DateTimeField("created", default=timezone.now)
    expires_at = models.DateTimeField("expires", db_index=True)

    class Meta:
        verbose_name = "idempotency key"
        verbose_name_plural = "idempotency keys"

    def __str__(self):
        return f"{self.method} {self.route} {self.key}"
