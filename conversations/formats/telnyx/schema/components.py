"""OpenAPI components of the Telnyx AI conversations format: the wire shapes (metadata, message
metadata, tool calls, times), the ``TelnyxErrors`` envelope beside FastAPI's validation error,
and the extensions that describe the serializers of :mod:`conversations.formats.telnyx.serializers`.

The input serializers are real DRF serializers, read field by field by drf-spectacular, with
their free-form ``JSONField`` parts (metadata, tool calls) described by field extensions; the
rendered shapes (hand-written ``BaseSerializer``s) are described by serializer extensions.
Shapes follow ``docs/contract.md`` §Sources, Telnyx.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerFieldExtension

from conversations.domain.metadata import HANDOFF_NOTE, MAX_KEY_LENGTH, MAX_PAIRS, MAX_VALUE_LENGTH
from conversations.formats.schema import FASTAPI_VALIDATION_COMPONENTS, SerializerSchema, ref
from conversations.formats.telnyx import serializers as s

_KEY_NAMES = {"minLength": 1, "maxLength": MAX_KEY_LENGTH}
_AI_DISABLED = {"anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["true", "false"]}]}
METADATA = {
    "type": "object",
    "description": f"Up to {MAX_PAIRS} string pairs: keys 1–{MAX_KEY_LENGTH} characters, values "
    f"at most {MAX_VALUE_LENGTH}. Reserved Telnyx keys (`telnyx_conversation_channel`, …) "
    "are ordinary metadata here.",
    "maxProperties": MAX_PAIRS,
    "propertyNames": _KEY_NAMES,
    "additionalProperties": {"type": "string", "maxLength": MAX_VALUE_LENGTH},
}
METADATA_INPUT = {
    **METADATA,
    "type": ["object", "null"],
    "description": METADATA["description"] + " `ai_disabled` takes `true`/`false` or "
    '`"true"`/`"false"`; `"true"` switches AI replies off.' + HANDOFF_NOTE,
    "properties": {"ai_disabled": _AI_DISABLED},
}
METADATA_PATCH = {
    **METADATA_INPUT,
    "description": "Merged (convstore's choice; Telnyx documents none): keys sent are set, a "
    "key sent as `null` is removed; `{}`, `null` or no `metadata` change nothing. The "
    f"{MAX_PAIRS}-pair limit applies to the result.",
    "properties": {"ai_disabled": {"anyOf": [*_AI_DISABLED["anyOf"], {"type": "null"}]}},
    "additionalProperties": {"type": ["string", "null"], "maxLength": MAX_VALUE_LENGTH},
}
_SCALAR = {"type": ["string", "number", "boolean"]}
MESSAGE_METADATA = {
    "type": "object",
    "description": "The message's own metadata: strings, numbers, booleans and lists of them "
    "(Telnyx `CreateMsgReq`).",
    "additionalProperties": {"anyOf": [_SCALAR, {"type": "array", "items": _SCALAR}]},
}
TOOL_CALLS = {
    "type": "array",
    "items": {"type": "object"},
    "description": "Tool calls, stored as sent.",
}
ISO_TIME = {"type": "string", "description": "ISO 8601, UTC, `Z` suffix."}

COMPONENTS = {
    **FASTAPI_VALIDATION_COMPONENTS,
    "TelnyxErrors": {
        "type": "object",
        "description": "The Telnyx platform error envelope.",
        "properties": {
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "string", "examples": ["10005"]},
                        "title": {"type": "string"},
                        "detail": {"type": "string"},
                        "source": {
                            "type": "object",
                            "properties": {"pointer": {"type": "string"}},
                        },
                    },
                    "required": ["code", "title", "detail"],
                },
            }
        },
        "required": ["errors"],
    },
}
ENVELOPE = ref("TelnyxErrors")
VALIDATION = ref("HTTPValidationError")
EITHER = {"anyOf": [ENVELOPE, VALIDATION]}


class MessageMetadata(OpenApiSerializerFieldExtension):
    """:class:`~.serializers.MessageMetadataField`."""

    target_class = s.MessageMetadataField

    def map_serializer_field(self, auto_schema, direction):
        return MESSAGE_METADATA


class ToolCalls(OpenApiSerializerFieldExtension):
    """:class:`~.serializers.ToolCallsField`."""

    target_class = s.ToolCallsField

    def map_serializer_field(self, auto_schema, direction):
        return TOOL_CALLS


class _ReadFields(SerializerSchema):
    """A real input serializer read field by field, some properties replaced."""

    name = ""
    replace: dict = {}

    def get_name(self, auto_schema, direction):
        return self.name

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["properties"].update(self.replace)
        return schema


class ConversationCreateInput(_ReadFields):
    """:class:`~.serializers.ConversationCreateInputSerializer`."""

    target_class = s.ConversationCreateInputSerializer
    name = "CreateConversationRequest"
    replace = {"metadata": METADATA_INPUT}


class ConversationUpdateInput(_ReadFields):
    """:class:`~.serializers.ConversationUpdateInputSerializer`."""

    target_class = s.ConversationUpdateInputSerializer
    name = "UpdateConversationRequest"
    replace = {"metadata": METADATA_PATCH}


class MessageCreateInput(_ReadFields):
    """:class:`~.serializers.MessageCreateInputSerializer` (``CreateMsgReq``)."""

    target_class = s.MessageCreateInputSerializer
    name = "CreateMessageRequest"
    replace = {"tool_choice": {"description": "Stored as sent."}}


class ChatInput(_ReadFields):
    """:class:`~.serializers.ChatInputSerializer`."""

    target_class = s.ChatInputSerializer
    name = "ChatRequest"
    replace = {}


class ConversationOutput(SerializerSchema):
    """:class:`~.serializers.ConversationOutputSerializer`."""

    target_class = s.ConversationOutputSerializer
    name = "Conversation"
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "name": {"type": "string"},
            "created_at": ISO_TIME,
            "last_message_at": {**ISO_TIME, "type": ["string", "null"]},
            "metadata": METADATA,
        },
        "required": ["id", "name", "created_at", "last_message_at", "metadata"],
    }


class MessageOutput(SerializerSchema):
    """:class:`~.serializers.MessageOutputSerializer`."""

    target_class = s.MessageOutputSerializer
    name = "ConversationMessage"
    schema = {
        "type": "object",
        "properties": {
            "role": {"type": "string"},
            "text": {"type": "string", "description": "The message's `content`."},
            "created_at": ISO_TIME,
            "sent_at": {**ISO_TIME, "type": ["string", "null"]},
            "metadata": MESSAGE_METADATA,
            "tool_calls": {**TOOL_CALLS, "type": ["array", "null"]},
        },
        "required": ["role", "text", "created_at", "sent_at", "metadata", "tool_calls"],
    }
