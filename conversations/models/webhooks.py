"""Webhook tables: endpoints, the outbox's events, and each delivery attempt."""


from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone

from conversations.models.conversations import Conversation
from conversations.models.projects import Project

#: Event names an endpoint can subscribe to. ``agent.message`` is AgentPhone's own;
#: ``agent.conversation_updated`` (a metadata change) is ours, named in AgentPhone's style;
#: ``conversation.ai_resumed`` (a timed handoff ended, :mod:`conversations.domain.handoff`) is ours.
WEBHOOK_EVENTS = ("agent.message", "agent.conversation_updated", "conversation.ai_resumed")


def validate_webhook_events(value) -> None:
    """``events`` must be a list of names from :data:`WEBHOOK_EVENTS` (empty means all)."""
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValidationError("Events must be a list of event names.", code="invalid_events")
    unknown = sorted(set(value) - set(WEBHOOK_EVENTS))
    if unknown:
        raise ValidationError(
            "Unknown events: %(unknown)s. Known: %(known)s.",
            code="unknown_events",
            params={"unknown": ", ".join(unknown), "known": ", ".join(WEBHOOK_EVENTS)},
        )


class WebhookEndpoint(models.Model):
    """A URL of a project that receives signed events, as AgentPhone's webhook settings.

    ``events`` lists the subscribed event names (``agent.message``,
    ``agent.conversation_updated``). ``context_limit`` is how many recent messages ride
    along in ``recentHistory`` (AgentPhone's ``contextLimit``, 0–50, default 10).
    """

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="webhook_endpoints", verbose_name="project"
    )
    url = models.URLField("URL", max_length=2000, help_text="Where events are POSTed.")
    secret = models.CharField(
        "signing secret",
        max_length=128,
        blank=True,
        help_text="HMAC-SHA256 key (whsec_…); generated when left blank.",
    )
    events = models.JSONField(
        "events",
        default=list,
        blank=True,
        validators=[validate_webhook_events],
        help_text="Subscribed event names; empty means every event.",
    )
    context_limit = models.PositiveSmallIntegerField(
        "context limit",
        default=10,
        validators=[MaxValueValidator(50)],
        help_text="Recent messages sent in recentHistory (0–50).",
    )
    is_active = models.BooleanField("active", default=True)
    description = models.CharField("description", max_length=255, blank=True, default="")
    created_at = models.DateTimeField("created", default=timezone.now)

    class Meta:
        ordering = ["project", "url"]
        verbose_name = "webhook endpoint"
        verbose_name_plural = "webhook endpoints"
        indexes = [models.Index(fields=["project", "is_active"], name="webhook_project_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(context_limit__lte=50), name="webhook_context_limit_lte_50"
            )
        ]

    def __str__(self):
        return self.url

    def clean(self):
        """The address rule for ``url`` (scheme http/https, public addresses only), shared by
        the admin form and ``create_webhook``: see :mod:`conversations.domain.addresses`."""
        from conversations.domain.addresses import validate_webhook_url

        super().clean()
        if self.url:
            try:
                validate_webhook_url(self.url)
            except ValidationError as exc:
                raise ValidationError({"url": exc.messages}) from None

    def wants(self, event_type: str) -> bool:
        """Whether this endpoint subscribes to ``event_type`` (an empty list means all)."""
        return not self.events or event_type in self.events


class WebhookEvent(models.Model):
    """One event for one endpoint: the outbox row, written in the change's transaction.

    ``payload`` is the AgentPhone envelope; it is serialised and signed afresh at each
    attempt (the signature covers the attempt's timestamp). ``webhook_id`` is sent as
    ``X-Webhook-ID`` and stays the same across retries. A worker owns a row while
    ``locked_until`` is in the future (its lease).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        DELIVERED = "delivered", "delivered"
        FAILED = "failed", "failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name="endpoint",
    )
    conversation = models.ForeignKey(
        Conversation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="conversation",
        help_text="Kept null once the conversation is deleted; the event is still delivered.",
    )
    webhook_id = models.CharField(
        "webhook id", max_length=64, unique=True, help_text="X-Webhook-ID (stable across retries)."
    )
    event_type = models.CharField("event", max_length=64)
    payload = models.JSONField("payload", help_text="The envelope as delivered.")
    status = models.CharField(
        "status", max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempt_count = models.PositiveSmallIntegerField("attempts", default=0)
    next_attempt_at = models.DateTimeField("next attempt", default=timezone.now)
    locked_until = models.DateTimeField(
        "leased until", null=True, blank=True, help_text="A worker owns the row until then."
    )
    locked_by = models.CharField("leased by", max_length=64, blank=True, default="")
    created_at = models.DateTimeField("created", default=timezone.now)
    delivered_at = models.DateTimeField("delivered", null=True, blank=True)
    last_error = models.TextField("last error", blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "webhook event"
        verbose_name_plural = "webhook events"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_event_due_idx"),
            # The delivery claim's head-of-line rule: pending events oldest first, and each
            # (endpoint, conversation) queue's earlier pending events (only pending rows).
            models.Index(
                fields=["id"],
                condition=models.Q(status="pending"),
                name="webhook_event_pending_idx",
            ),
            models.Index(
                fields=["endpoint", "conversation", "id"],
                condition=models.Q(status="pending"),
                name="webhook_event_queue_idx",
            ),
        ]

    def __str__(self):
        return f"{self.event_type} {self.webhook_id}"


class WebhookAttempt(models.Model):
    """One delivery attempt of a :class:`WebhookEvent`: what came back and how long it took."""

    event = models.ForeignKey(
        WebhookEvent, on_delete=models.CASCADE, related_name="attempts", verbose_name="event"
    )
    number = models.PositiveSmallIntegerField("attempt", help_text="1 for the first attempt.")
    started_at = models.DateTimeField("started", default=timezone.now)
    status_code = models.PositiveSmallIntegerField(
        "HTTP status", null=True, blank=True, help_text="Empty when no response came back."
    )
    latency_ms = models.PositiveIntegerField("latency (ms)", default=0)
    error = models.TextField("error", blank=True, default="")
    succeeded = models.BooleanField("succeeded", default=False)

    class Meta:
        ordering = ["event", "number"]
        verbose_name = "webhook attempt"
        verbose_name_plural = "webhook attempts"
        constraints = [
            models.UniqueConstraint(fields=["event", "number"], name="webhook_attempt_unique")
        ]

    def __str__(self):
        return f"attempt {self.number}: {self.status_code or self.error[:40]}"
