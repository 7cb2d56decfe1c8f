"""convstore's domain models: one store behind every wire format.

Writes go through :mod:`conversations.services`; reads that filter or page through
:mod:`conversations.selectors`. No model here knows any provider's wire format.
"""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone

from .metadata import validate_metadata


class Project(models.Model):
    """A tenant: API keys and conversations belong to exactly one project."""

    name = models.CharField("name", max_length=100, unique=True, help_text="Unique project name.")
    created_at = models.DateTimeField("created", default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = "project"
        verbose_name_plural = "projects"

    def __str__(self):
        return self.name


class ApiKey(models.Model):
    """An API key of a project. Only its SHA-256 digest is stored; the key is shown once.

    Keys look like ``cs_`` + 40 random hex characters; ``prefix`` keeps the first 12
    characters so staff can tell keys apart.
    """

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="api_keys", verbose_name="project"
    )
    name = models.CharField("name", max_length=100, blank=True, help_text="What the key is for.")
    prefix = models.CharField("prefix", max_length=16, help_text="First characters of the key.")
    key_hash = models.CharField(
        "key digest",
        max_length=64,
        unique=True,
        editable=False,
        help_text="SHA-256 hex digest of the key.",
    )
    created_at = models.DateTimeField("created", default=timezone.now)
    last_used_at = models.DateTimeField(
        "last used",
        null=True,
        blank=True,
        help_text="Updated at most once a minute per key, to keep requests write-free.",
    )
    revoked_at = models.DateTimeField("revoked", null=True, blank=True)

    #: Characters of the key kept in ``prefix``.
    PREFIX_LENGTH = 12

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"
        verbose_name_plural = "API keys"

    def __str__(self):
        return f"{self.prefix}… ({self.project})"

    @property
    def is_active(self) -> bool:
        """A key is active until it is revoked."""
        return self.revoked_at is None


class Conversation(models.Model):
    """One conversation, whatever format created it.

    ``id`` is the store's UUID; formats render it (``conv_`` + 32 hex, or the dashed UUID).
    ``metadata`` is a string-to-string object checked by :mod:`conversations.metadata`, or
    ``None`` once cleared through AgentPhone. ``ai_disabled`` mirrors
    ``metadata["ai_disabled"] == "true"`` so the switch can be filtered and indexed; only the
    service layer writes either.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="conversations", verbose_name="project"
    )
    isolation_key = models.CharField(
        "isolation key",
        max_length=256,
        blank=True,
        default="",
        help_text="x-ms-user-isolation-key of the creating request; empty when none was sent.",
    )
    name = models.CharField("name", max_length=255, blank=True, default="")
    created_at = models.DateTimeField("created", default=timezone.now)
    last_message_at = models.DateTimeField(
        "last activity", default=timezone.now, help_text="Time of the latest message."
    )
    updated_at = models.DateTimeField("updated", default=timezone.now)
    metadata = models.JSONField(
        "metadata",
        null=True,
        blank=True,
        default=dict,
        validators=[validate_metadata],
        help_text="Up to 16 string pairs; keys ≤ 64 characters, values ≤ 512.",
    )
    ai_disabled = models.BooleanField(
        "AI off", default=False, help_text='True when metadata "ai_disabled" is "true".'
    )
    # Telephony and messaging context (AgentPhone and Telnyx channels).
    channel = models.CharField(
        "channel",
        max_length=32,
        blank=True,
        default="",
        help_text="sms, mms, imessage, whatsapp, voice, web_chat, … (empty when unknown).",
    )
    agent_id = models.CharField("agent id", max_length=64, blank=True, default="")
    phone_number_id = models.CharField("phone number id", max_length=64, blank=True, default="")
    phone_number = models.CharField(
        "phone number", max_length=64, blank=True, default="", help_text="Our side's number."
    )
    participant = models.CharField(
        "participant", max_length=256, blank=True, default="", help_text="The other party."
    )
    is_group = models.BooleanField("group", default=False)
    group_name = models.CharField(  # noqa: DJ001 - AgentPhone tells null from ""
        "group name", max_length=255, null=True, blank=True
    )
    message_count = models.PositiveIntegerField("messages", default=0)
    last_message_preview = models.CharField(
        "last message preview", max_length=200, blank=True, default=""
    )
    version = models.PositiveBigIntegerField(
        "version",
        default=1,
        editable=False,
        help_text="Bumped by every write to the conversation (metadata, fields, messages).",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "conversation"
        verbose_name_plural = "conversations"
        indexes = [
            # The id ends both keys: a page ordered by (time, id) reads them in index order,
            # without sorting each run of equal times (half a walk's cost at a million rows).
            models.Index(
                fields=["project", "isolation_key", "-last_message_at", "-id"],
                name="conv_part_activity_id_idx",
            ),
            models.Index(
                fields=["project", "isolation_key", "-created_at", "-id"],
                name="conv_part_created_id_idx",
            ),
            models.Index(fields=["-last_message_at"], name="conv_activity_idx"),
            models.Index(fields=["ai_disabled"], name="conv_ai_disabled_idx"),
        ]

    def __str__(self):
        return str(self.id)


class Message(models.Model):
    """An item of a conversation: an OpenAI item, a Telnyx message or an AgentPhone message.

    ``content`` is the plain text body every format can show. ``content_parts`` keeps OpenAI
    content parts as sent, and ``payload`` a non-message OpenAI item (function call, …) as sent
    (for an OpenAI message: ``{"type": "message"}`` and its fields other than ``id``,
    ``role``, ``content`` and ``status``; for a Telnyx message: its ``tool_choice``).
    ``item_id`` is a client-sent item id (``rs_…``), kept as sent.
    ``direction`` is ``inbound`` (from the end user) or ``outbound`` (to them).
    """

    ROLE_CHOICES = [
        ("user", "user"),
        ("assistant", "assistant"),
        ("system", "system"),
        ("developer", "developer"),
        ("tool", "tool"),
        ("", "none"),
    ]
    DIRECTION_CHOICES = [("inbound", "inbound"), ("outbound", "outbound")]

    public_id = models.UUIDField("public id", default=uuid.uuid4, unique=True, editable=False)
    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        related_name="messages",
        verbose_name="conversation",
    )
    item_type = models.CharField("item type", max_length=64, default="message")
    item_id = models.CharField(
        "item id",
        max_length=128,
        blank=True,
        default="",
        help_text="The id the client sent with the item, kept as sent (unique within the "
        "conversation); empty when the store issued one from the public id.",
    )
    role = models.CharField("role", max_length=32, blank=True, default="", choices=ROLE_CHOICES)
    status = models.CharField("status", max_length=32, default="completed")
    content = models.TextField("content", blank=True, default="")
    content_parts = models.JSONField("content parts", null=True, blank=True)
    payload = models.JSONField("item payload", null=True, blank=True)
    name = models.CharField("name", max_length=255, blank=True, default="")
    tool_calls = models.JSONField("tool calls", null=True, blank=True)
    tool_call_id = models.CharField("tool call id", max_length=255, blank=True, default="")
    metadata = models.JSONField("message metadata", null=True, blank=True)
    direction = models.CharField(
        "direction", max_length=16, blank=True, default="", choices=DIRECTION_CHOICES
    )
    channel = models.CharField("channel", max_length=32, blank=True, default="")
    from_number = models.CharField("from", max_length=256, blank=True, default="")
    to_number = models.CharField("to", max_length=256, blank=True, default="")
    media_urls = models.JSONField("media URLs", default=list, blank=True)
    reactions = models.JSONField("reactions", default=list, blank=True)
    sent_at = models.DateTimeField("sent", null=True, blank=True)
    created_at = models.DateTimeField("created", default=timezone.now)
    size_bytes = models.PositiveIntegerField(
        "stored size (bytes)",
        default=0,
        editable=False,
        help_text="conversations.limits.message_size of the row; response budgets count it.",
    )

    class Meta:
        ordering = ["id"]
        verbose_name = "message"
        verbose_name_plural = "messages"
        indexes = [
            models.Index(fields=["conversation", "id"], name="msg_conversation_idx"),
            models.Index(fields=["conversation", "created_at"], name="msg_conversation_time_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "item_id"],
                condition=~models.Q(item_id=""),
                name="msg_conversation_item_id_uniq",
            ),
        ]

    def __str__(self):
        return f"{self.role or self.item_type}: {self.content[:50]}"


class MetadataChange(models.Model):
    """The audit trail: one row per metadata change, whoever made it and through which path."""

    class ActorType(models.TextChoices):
        API_KEY = "api_key", "API key"
        STAFF = "staff", "staff user"
        COMMAND = "command", "management command"
        SYSTEM = "system", "system"

    class Action(models.TextChoices):
        CREATE = "create", "created"
        MERGE = "merge", "merged"
        REPLACE = "replace", "replaced"
        CLEAR = "clear", "cleared"
        AI_SWITCH = "ai_switch", "AI switch"
        AI_RESUME = "ai_resume", "AI resumed (handoff ended)"

    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        related_name="metadata_changes",
        verbose_name="conversation",
    )
    changed_at = models.DateTimeField("when", default=timezone.now)
    actor_type = models.CharField("actor type", max_length=16, choices=ActorType.choices)
    actor = models.CharField("who", max_length=255, help_text="Key prefix, username or command.")
    api_key = models.ForeignKey(
        ApiKey,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="API key",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="staff user",
    )
    source = models.CharField(
        "path",
        max_length=32,
        help_text="openai, azure, telnyx, agentphone, admin, command or system.",
    )
    action = models.CharField("action", max_length=16, choices=Action.choices)
    before = models.JSONField("before", null=True, blank=True)
    after = models.JSONField("after", null=True, blank=True)
    request_id = models.CharField("request id", max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = "metadata change"
        verbose_name_plural = "metadata changes"
        indexes = [
            models.Index(fields=["conversation", "-changed_at"], name="audit_conversation_idx"),
        ]

    def __str__(self):
        return f"{self.get_action_display()} by {self.actor} via {self.source}"


# --- webhooks (AgentPhone-style signed deliveries; see conversations.webhooks) ---------------

#: Event names an endpoint can subscribe to. ``agent.message`` is AgentPhone's own;
#: ``agent.conversation_updated`` (a metadata change) is ours, named in AgentPhone's style;
#: ``conversation.ai_resumed`` (a timed handoff ended, :mod:`conversations.handoff`) is ours.
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
        the admin form and ``create_webhook``: see :mod:`conversations.webhooks.addresses`."""
        from .webhooks.addresses import validate_webhook_url

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


class IdempotencyKey(models.Model):
    """A client's ``Idempotency-Key`` on a create POST, and the first answer it got.

    Scoped to ``(project, isolation key, method, route, key)``; ``scope`` is the SHA-256 of
    that tuple, so the unique index stays small whatever the path length. A row is first a
    *claim* (``status_code`` empty, held by ``token`` until ``locked_until``), written in its
    own transaction so concurrent requests see it; the answer is stored in the same
    transaction as the write it describes (:mod:`conversations.idempotency`). Rows live until
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
