"""Messages: every item of a conversation, whatever format wrote it."""

import uuid

from django.db import models
from django.utils import timezone

from conversations.models.conversations import Conversation


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
        help_text="conversations.domain.limits.message_size of the row; response budgets count it.",
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
