"""Telnyx AI conversations request and response shapes (``docs/contract.md`` §One store).

Input serializers check a body's *shape* (FastAPI ignores unknown fields, so do they); the
conversation metadata rules are applied once, by the services. Output serializers render the
store's rows as the ``telnyx`` SDK's models expect: dashed UUIDs and ISO 8601 times.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from rest_framework import serializers

from conversations.domain.handoff import effective_metadata
from conversations.domain.messaging import iso_utc
from conversations.domain.metadata import contains_nul
from conversations.formats.telnyx.errors import (
    TelnyxValidationError,
    serializer_error_items,
    validation_item,
)
from conversations.models import Conversation, Message
from conversations.services import MessageInput

MESSAGE_ROLES = ("user", "assistant", "system", "developer", "tool")
_SCALARS = (str, int, float, bool)


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` suffix, e.g. ``2025-04-15T13:07:28.764000Z``."""
    return iso_utc(value, timespec="auto")


def validated(serializer_class, data) -> dict:
    """Run an input serializer; raise :class:`TelnyxValidationError` (422) on any fault.

    The body must be a JSON object without the NUL character (PostgreSQL cannot store it).
    """
    if not isinstance(data, Mapping):
        raise TelnyxValidationError(
            [validation_item(("body",), "Input should be a valid dictionary", "dict_type")]
        )
    for name, value in data.items():
        if contains_nul(name) or contains_nul(value):
            raise TelnyxValidationError(
                [
                    validation_item(
                        ("body", _printable(name)),
                        "Value error, the NUL character (\\u0000) is not allowed",
                        "value_error",
                    )
                ]
            )
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise TelnyxValidationError(serializer_error_items(serializer.errors))
    return serializer.validated_data


def _printable(name: str) -> str:
    return name.replace("\x00", "").encode("utf-8", "replace").decode()


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers and booleans, as pydantic does for ``str``."""

    default_error_messages = {"invalid": "Input should be a valid string"}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ConversationCreateInputSerializer(serializers.Serializer):
    """``POST /ai/conversations``: ``{"metadata"?: {...}, "name"?: str}``."""

    metadata = serializers.JSONField(required=False, allow_null=True)
    name = StrictCharField(
        required=False, allow_blank=True, allow_null=True, max_length=255, trim_whitespace=False
    )


class ConversationUpdateInputSerializer(serializers.Serializer):
    """``PUT /ai/conversations/{id}``: ``{"metadata"?: {...}}`` (merged; see views)."""

    metadata = serializers.JSONField(required=False, allow_null=True)


class MessageMetadataField(serializers.JSONField):
    """Message metadata: ``{str: str|int|float|bool|[str|int|float|bool]}`` (Telnyx
    ``CreateMsgReq``); unlike conversation metadata, values need not be strings."""

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if data is None:
            return None
        if not isinstance(data, Mapping):
            raise serializers.ValidationError("Input should be a valid dictionary", "not_a_dict")
        errors = {}
        for key, value in data.items():
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(item, _SCALARS) for item in items):
                errors[key] = [
                    serializers.ErrorDetail(
                        "Input should be a string, number, boolean or a list of them",
                        "value_error",
                    )
                ]
        if errors:
            raise serializers.ValidationError(errors)
        return data


class ToolCallsField(serializers.JSONField):
    """``tool_calls``: a list of objects, stored as sent."""

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if data is None:
            return None
        if not isinstance(data, list) or not all(isinstance(item, Mapping) for item in data):
            raise serializers.ValidationError(
                "Input should be a valid list of objects", "not_a_list"
            )
        return data


class MessageCreateInputSerializer(serializers.Serializer):
    """``POST /ai/conversations/{id}/message`` (``CreateMsgReq``)."""

    role = serializers.ChoiceField(choices=MESSAGE_ROLES)
    content = StrictCharField(
        required=False, allow_blank=True, allow_null=True, trim_whitespace=False
    )
    name = StrictCharField(
        required=False, allow_blank=True, allow_null=True, max_length=255, trim_whitespace=False
    )
    sent_at = serializers.DateTimeField(required=False, allow_null=True)
    metadata = MessageMetadataField(required=False, allow_null=True)
    tool_calls = ToolCallsField(required=False, allow_null=True)
    tool_call_id = StrictCharField(
        required=False, allow_blank=True, allow_null=True, max_length=255
    )
    tool_choice = serializers.JSONField(required=False, allow_null=True)


class ChatInputSerializer(serializers.Serializer):
    """``POST /ai/assistants/{assistant_id}/chat``: ``{content, conversation_id, name?,
    stream?}``. ``stream`` is accepted and ignored: the reply is always one JSON object,
    which is also what the Python SDK parses."""

    content = StrictCharField(allow_blank=True, trim_whitespace=False)
    conversation_id = StrictCharField()
    name = StrictCharField(
        required=False, allow_blank=True, allow_null=True, max_length=255, trim_whitespace=False
    )
    stream = serializers.BooleanField(required=False, allow_null=True)


def message_input(data: Mapping) -> MessageInput:
    """A validated ``CreateMsgReq`` as a :class:`MessageInput`; ``tool_choice`` is kept in
    ``payload``."""
    tool_choice = data.get("tool_choice")
    return MessageInput(
        role=data["role"],
        content=data.get("content") or "",
        name=data.get("name") or "",
        sent_at=data.get("sent_at"),
        metadata=data.get("metadata"),
        tool_calls=data.get("tool_calls"),
        tool_call_id=data.get("tool_call_id") or "",
        payload={"tool_choice": tool_choice} if tool_choice is not None else None,
    )


class ConversationOutputSerializer(serializers.BaseSerializer):
    """``Conversation``: ``{"id": "<dashed uuid>", "name", "created_at", "last_message_at",
    "metadata"}``; times ISO 8601, cleared metadata as ``{}``."""

    def to_representation(self, instance: Conversation) -> dict:
        return {
            "id": str(instance.id),
            "name": instance.name,
            "created_at": iso(instance.created_at),
            "last_message_at": iso(instance.last_message_at),
            "metadata": effective_metadata(instance) or {},
        }


#: The stored OpenAI item types a Telnyx conversation shows: messages, and tool calls with
#: their outputs in Telnyx's own tool-call shape; reasoning, hosted-tool calls and the other
#: item types are left out of its message list.
TOOL_CALL_TYPES = ("function_call", "custom_tool_call")
SHOWN_ITEM_TYPES = ("message", *TOOL_CALL_TYPES, "function_call_output", "custom_tool_call_output")


class MessageOutputSerializer(serializers.BaseSerializer):
    """A listed message: ``{"role", "text", "created_at", "sent_at", "metadata",
    "tool_calls"}`` (the request's ``content`` is the listed ``text``).

    An OpenAI ``function_call`` / ``custom_tool_call`` item lists as an assistant message
    with one tool call ``{"id": call_id, "type": "function", "function": {"name",
    "arguments"}}`` (a custom tool's ``input`` as ``arguments``), as a Telnyx client writes
    them; its output item lists as a ``tool`` message whose text is the output.
    """

    def to_representation(self, instance: Message) -> dict:
        role, tool_calls = instance.role, instance.tool_calls
        if instance.item_type in TOOL_CALL_TYPES:
            item = instance.payload or {}
            arguments = item.get("arguments" if instance.item_type == "function_call" else "input")
            role = "assistant"
            tool_calls = [
                {
                    "id": str(item.get("call_id") or ""),
                    "type": "function",
                    "function": {
                        "name": str(item.get("name") or ""),
                        "arguments": arguments if isinstance(arguments, str) else "",
                    },
                }
            ]
        return {
            "role": role,
            "text": instance.content,
            "created_at": iso(instance.created_at),
            "sent_at": iso(instance.sent_at),
            "metadata": instance.metadata or {},
            "tool_calls": tool_calls,
        }
