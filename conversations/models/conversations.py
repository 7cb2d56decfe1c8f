"""Conversations and their metadata audit trail."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from conversations.domain.metadata import validate_metadata
from conversations.models.projects import ApiKey, Project


class Conversation(models.Model):
    """One conversation, whatever format created it.

    ``id`` is the store's UUID; formats render it (``conv_`` + 32 hex, or the dashed UUID).
    ``metadata`` is a string-to-string object checked by :mod:`conversations.domain.metadata`, or
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
