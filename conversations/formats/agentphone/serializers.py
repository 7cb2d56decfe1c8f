"""AgentPhone request parsing and response shapes (``docs/contract.md`` §Metadata).

Responses are camelCase with ISO 8601 UTC times (``2025-01-15T12:00:00.123456Z``;
microseconds kept so a ``receivedAt`` works as an exact ``before``/``after`` cursor). Every
key the ``agentphone`` SDK hard-requires is always present: ``id``, ``phoneNumber`` on a
conversation; ``id``, ``body``, ``receivedAt`` on a message; ``data``, ``hasMore`` (and
``total`` on conversation lists) on a page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework import serializers

from conversations.domain.handoff import effective_metadata
from conversations.domain.ids import prefixed
from conversations.domain.messaging import iso_utc as iso
from conversations.domain.messaging import message_parties
from conversations.formats.agentphone.errors import ValidationFailed
from conversations.formats.params import IntegerParamInvalid, integer_param, pydantic_words
from conversations.models import Conversation, Message

GROUP_NAME_MAX_LENGTH = 255


def int_param(params: Mapping, name: str, *, default: int, low: int, high: int) -> int:
    """An integer query parameter within ``[low, high]``
    (:func:`~conversations.formats.params.integer_param`); FastAPI's 422 item otherwise."""
    try:
        return integer_param(params, name, default=default, low=low, high=high)
    except IntegerParamInvalid as exc:
        raise ValidationFailed(["query", name], *pydantic_words(exc)) from None


def datetime_param(params: Mapping, name: str) -> dt.datetime | None:
    """An ISO 8601 date-time (or date, meaning its midnight) query parameter; naive is UTC."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    # A hand-typed "+05:00" arrives as " 05:00" under form decoding; the SDK sends %2B.
    for text in dict.fromkeys([raw, raw.replace(" ", "+")]):
        try:
            value = parse_datetime(text)
            if value is None:
                day = parse_date(text)
                value = dt.datetime.combine(day, dt.time()) if day else None
            if value is not None:
                if timezone.is_naive(value):
                    value = value.replace(tzinfo=dt.UTC)
                return value.astimezone(dt.UTC)  # OverflowError near year 1 or 9999
        except (ValueError, OverflowError):
            continue
    raise ValidationFailed(
        ["query", name],
        "Input should be a valid datetime or date",
        "datetime_from_date_parsing",
    )


class ConversationUpdateInputSerializer(serializers.BaseSerializer):
    """``PATCH /v1/conversations/{id}``: ``{"metadata"?: object|null, "group_name"?: str|null}``.

    Returns only the fields present (a rename-only PATCH leaves metadata alone and vice
    versa). Unknown keys are ignored, as FastAPI does. ``metadata`` itself is checked by the
    service, so the rules live in one place.
    """

    def to_internal_value(self, data) -> dict:
        if not isinstance(data, Mapping):
            raise ValidationFailed(
                ["body"],
                "Input should be a valid dictionary or object to extract fields from",
                "model_attributes_type",
            )
        result = {}
        if "metadata" in data:
            result["metadata"] = data["metadata"]
        if "group_name" in data:
            name = data["group_name"]
            loc = ["body", "group_name"]
            if name is not None and not isinstance(name, str):
                raise ValidationFailed(loc, "Input should be a valid string", "string_type")
            if name is not None and len(name) > GROUP_NAME_MAX_LENGTH:
                raise ValidationFailed(
                    loc,
                    f"String should have at most {GROUP_NAME_MAX_LENGTH} characters",
                    "string_too_long",
                )
            if name is not None and "\x00" in name:
                raise ValidationFailed(
                    loc, "Value error, the NUL character (\\u0000) is not allowed", "value_error"
                )
            result["group_name"] = name
        return result


def _reactions(stored) -> list[dict]:
    """Stored reactions as ``ReactionInConversation`` items (every SDK-required key set)."""
    items = []
    for reaction in stored or []:
        if not isinstance(reaction, Mapping):
            continue
        items.append(
            {
                "id": str(reaction.get("id") or ""),
                "reactionType": str(reaction.get("reactionType") or reaction.get("type") or ""),
                "fromNumber": str(reaction.get("fromNumber") or ""),
                "direction": str(reaction.get("direction") or ""),
                "createdAt": str(reaction.get("createdAt") or ""),
            }
        )
    return items


#: AgentPhone threads are SMS/iMessage-like: they show the conversation's messages, not the
#: OpenAI items stored beside them (tool calls and outputs, reasoning, …).
SHOWN_ITEM_TYPES = ("message",)


class MessageOutputSerializer(serializers.BaseSerializer):
    """A ``MessageInConversation`` / ``Message`` (§B.2); needs ``context["conversation"]``.

    ``fromNumber``/``toNumber`` come from the conversation when the message has none
    (:func:`conversations.domain.messaging.message_parties`). ``receivedAt`` is when convstore
    stored the message, the field the ``before``/``after`` cursors compare.
    """

    def to_representation(self, instance: Message) -> dict:
        conversation: Conversation = self.context["conversation"]
        from_number, to_number = message_parties(instance, conversation)
        media_urls = [url for url in instance.media_urls or [] if isinstance(url, str)]
        return {
            "id": prefixed(instance.public_id, "msg"),
            "conversationId": prefixed(conversation.id, "conv"),
            "body": instance.content,
            "fromNumber": from_number,
            "toNumber": to_number,
            "direction": instance.direction or "outbound",
            "senderIdentifier": None,
            "channel": instance.channel or conversation.channel or None,
            "mediaUrl": media_urls[0] if media_urls else None,
            "mediaUrls": media_urls,
            "receivedAt": iso(instance.created_at),
            "reactions": _reactions(instance.reactions),
            "replyTo": None,
        }


class ConversationOutputSerializer(serializers.BaseSerializer):
    """A ``ConversationSummary`` (list item); with ``context["messages"]`` a
    ``ConversationDetail`` carrying those messages (§B.2)."""

    def to_representation(self, instance: Conversation) -> dict:
        data = {
            "id": prefixed(instance.id, "conv"),
            "agentId": instance.agent_id or None,
            "phoneNumberId": instance.phone_number_id,
            "phoneNumber": instance.phone_number,
            "participant": instance.participant,
            "channel": instance.channel or None,
            "isGroup": instance.is_group,
            "groupId": None,
            "groupName": instance.group_name,
            "groupIconUrl": None,
            "participants": None,
            "lastMessageAt": iso(instance.last_message_at),
            "lastMessagePreview": instance.last_message_preview,
            "messageCount": instance.message_count,
            "metadata": effective_metadata(instance),
            "createdAt": iso(instance.created_at),
        }
        messages = self.context.get("messages")
        if messages is not None:
            context = {"conversation": instance}
            data["messages"] = [MessageOutputSerializer(m, context=context).data for m in messages]
        return data
