"""Webhook endpoints: the one path for the admin and the ``create_webhook``,
``list_webhooks`` and ``delete_webhook`` commands."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from conversations.models import Project, WebhookEndpoint, WebhookEvent

SECRET_PREFIX = "whsec_"


def generate_secret() -> str:
    """A new signing secret, ``whsec_`` + 48 hex characters (AgentPhone's ``whsec_…`` form)."""
    return SECRET_PREFIX + secrets.token_hex(24)


def mask_secret(secret: str) -> str:
    """How a stored secret is shown after creation: its ``whsec_`` prefix, an ellipsis and
    its last four characters (``whsec_…abcd``); nothing of a secret under 12 characters."""
    prefix = SECRET_PREFIX if secret.startswith(SECRET_PREFIX) else ""
    if len(secret) < 12:
        return prefix + "…"
    return f"{prefix}…{secret[-4:]}"


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    """Give ``endpoint`` a new generated secret and return it (the caller shows it once).

    Events not yet delivered are signed with the new secret from their next attempt on
    (the signature is computed at each attempt)."""
    endpoint.secret = generate_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint.secret


def webhook_endpoint_create(
    *,
    project: Project,
    url: str,
    secret: str = "",
    events: Iterable[str] = (),
    context_limit: int = 10,
    is_active: bool = True,
    description: str = "",
) -> WebhookEndpoint:
    """Register an endpoint of ``project``; a blank ``secret`` gets a generated one.

    ``events`` empty means every event. Raises Django's ``ValidationError`` for a bad URL,
    an unknown event name or a ``context_limit`` outside 0–50.
    """
    endpoint = WebhookEndpoint(
        project=project,
        url=url,
        secret=secret or generate_secret(),
        events=list(events),
        context_limit=context_limit,
        is_active=is_active,
        description=description,
    )
    endpoint.full_clean()
    endpoint.save()
    return endpoint


def webhook_endpoint_list(*, project: Project | None = None) -> QuerySet[WebhookEndpoint]:
    """Endpoints with their project, by project name then id; only ``project``'s when given."""
    queryset = WebhookEndpoint.objects.select_related("project").order_by("project__name", "pk")
    if project is not None:
        queryset = queryset.filter(project=project)
    return queryset


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> int:
    """Delete ``endpoint`` and its events (delivered or not); returns how many of those events
    were still undelivered (pending or failed), which are then never sent."""
    with transaction.atomic():
        undelivered = endpoint.deliveries.exclude(status=WebhookEvent.Status.DELIVERED).count()
        endpoint.delete()
    return undelivered


def webhook_event_retry(*, event: WebhookEvent) -> bool:
    """Queue a failed (or pending) event for an attempt now; ``False`` if it was delivered.

    The attempt history stays; a failed event gets one more attempt.
    """
    if event.status == WebhookEvent.Status.DELIVERED:
        return False
    event.status = WebhookEvent.Status.PENDING
    event.next_attempt_at = timezone.now()
    event.locked_until = None
    event.locked_by = ""
    event.save(update_fields=["status", "next_attempt_at", "locked_until", "locked_by"])
    return True
