"""OpenAPI description of the Telnyx AI conversations format (``/telnyx/v2``).

The real viewsets of :mod:`.views` are decorated here. The request bodies are the real input
serializers of :mod:`.serializers`, read field by field by drf-spectacular, with their
free-form ``JSONField`` parts (metadata, tool calls) described by extensions; the rendered
shapes (hand-written ``BaseSerializer``s) are described by serializer extensions. Shapes
follow ``docs/contract.md`` §Sources, Telnyx; served at ``/telnyx/v2/openapi.json``.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from drf_spectacular.utils import inline_serializer as inline
from rest_framework import serializers

from conversations.domain.metadata import HANDOFF_NOTE, MAX_KEY_LENGTH, MAX_PAIRS, MAX_VALUE_LENGTH
from conversations.formats.schema import (
    FASTAPI_VALIDATION_COMPONENTS,
    QUERY,
    FormatSchemaGenerator,
    FormatSpec,
    SerializerSchema,
    describe_view,
    format_settings,
    raw_field,
    ref,
)
from conversations.formats.telnyx import serializers as s
from conversations.formats.telnyx import views
from conversations.formats.telnyx.filters import MAX_LIMIT, MAX_OFFSET
from conversations.formats.telnyx.urls import telnyx_urlpatterns
from conversations.formats.telnyx.views import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

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


CONVERSATION_ID = OpenApiParameter(
    "conversation_id",
    str,
    OpenApiParameter.PATH,
    description="The dashed UUID (also `conv_` + 32 hex, or 32 hex).",
)
_OPS = "`eq`, `neq`, `gt`, `gte`, `lt`, `lte`"


def _filter(name: str, description: str, **schema) -> OpenApiParameter:
    return OpenApiParameter(name, {"type": "string", **schema}, QUERY, description=description)


_NOT = r"^(not\.)?"
_COLUMN = "(id|name|created_at|last_message_at)"
LIST_PARAMETERS = [
    _filter(
        "id",
        "`eq.`, `neq.` or `in.(…)` an id in any accepted form; `not.` negates.",
        pattern=_NOT + r"((eq|neq)\..*|in\.\(.*\))$",
    ),
    _filter(
        "name",
        f"{_OPS}, `like`, `ilike`, `in.(…)` (e.g. `eq.Support`).",
        pattern=_NOT + r"((eq|neq|gt|gte|lt|lte|like|ilike)\..*|in\.\(.*\))$",
    ),
    _filter(
        "created_at",
        f"{_OPS} with an ISO 8601 value (e.g. `gte.2025-01-01`).",
        pattern=_NOT + r"(eq|neq|gt|gte|lt|lte)\.[0-9]{4}-[0-9]{2}-[0-9]{2}.*$",
    ),
    _filter(
        "last_message_at",
        f"{_OPS} with an ISO 8601 value.",
        pattern=_NOT + r"(eq|neq|gt|gte|lt|lte)\.[0-9]{4}-[0-9]{2}-[0-9]{2}.*$",
    ),
    _filter(
        "metadata->telnyx_conversation_channel",
        "Any `metadata->KEY` (or `metadata->>KEY`) filter: `eq`, `neq`, `like`, `ilike`, "
        "`in.(…)`, `is.null`, `is.true`, `is.false`, compared as text.",
        pattern=_NOT + r"((eq|neq|like|ilike)\..*|in\.\(.*\)|is\.(null|true|false))$",
    ),
    _filter(
        "or",
        "`(cond,cond,and(cond,cond))`, each `column.op.value`; nesting up to 8.",
        pattern=r"^\(.*\)$",
    ),
    _filter("and", "As `or`, all conditions must hold.", pattern=r"^\(.*\)$"),
    _filter(
        "order",
        "`col.asc|desc[,…]` on `id`, `name`, `created_at`, `last_message_at`; default "
        "`created_at.desc`.",
        pattern=f"^{_COLUMN}\\.(asc|desc)(,{_COLUMN}\\.(asc|desc))*$",
    ),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": MAX_LIMIT},
        QUERY,
        description=f"At most {MAX_LIMIT} conversations.",
    ),
    OpenApiParameter(
        "offset",
        {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
        QUERY,
        description="Conversations to skip.",
    ),
]
PAGE_PARAMETERS = [
    OpenApiParameter(
        "page[number]",
        {"type": "integer", "minimum": 1, "default": 1},
        QUERY,
        description="Page number, from 1.",
    ),
    OpenApiParameter(
        "page[size]",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE},
        QUERY,
        description=f"Messages per page, 1–{MAX_PAGE_SIZE}.",
    ),
]
EMPTY = OpenApiResponse(description="Done; the body is empty (the SDK ignores it).")

SPEC = FormatSpec(
    errors={**dict.fromkeys(range(400, 600), ENVELOPE), 422: VALIDATION},
    components=COMPONENTS,
    descriptions={
        400: "Bad request (`10015`), e.g. AI responses switched off for the conversation.",
        401: "`10009` Authentication failed.",
        404: "`10005` Conversation Not Found.",
        422: "FastAPI's validation error: invalid metadata, malformed JSON, wrong types or "
        "missing fields, bad filters or paging, an over-long isolation key.",
    },
    # Errors of the Idempotency-Key contract may come in either shape.
    errors_when_idempotent={400: EITHER, 409: EITHER, 422: EITHER},
)
TAGS = ["Conversations"]
WRAPPED = inline("ConversationResponse", {"data": s.ConversationOutputSerializer()})

describe_view(
    views.ConversationViewSet,
    list=SPEC.operation(
        operation_id="ai_conversations_list",
        summary="List conversations",
        description="PostgREST-style filters, as the SDK sends them; repeated parameters AND "
        'together; unknown parameters are ignored. Answers `{"data": [...]}`.',
        parameters=LIST_PARAMETERS,
        response=inline("ConversationList", {"data": s.ConversationOutputSerializer(many=True)}),
        errors=(422,),
        tags=TAGS,
    ),
    create=SPEC.operation(
        operation_id="ai_conversations_create",
        summary="Create a conversation",
        description="Answers the bare conversation.",
        request=s.ConversationCreateInputSerializer,
        response=s.ConversationOutputSerializer,
        errors=(413, 422),
        idempotent=True,
        tags=TAGS,
    ),
    retrieve=SPEC.operation(
        operation_id="ai_conversations_retrieve",
        summary="Retrieve a conversation",
        description='Answers `{"data": conversation}`.',
        parameters=[CONVERSATION_ID],
        response=WRAPPED,
        errors=(404, 422),
        conditional="read",
        tags=TAGS,
    ),
    update=SPEC.operation(
        operation_id="ai_conversations_update",
        summary="Update a conversation's metadata (merge)",
        description=METADATA_PATCH["description"],
        parameters=[CONVERSATION_ID],
        request=s.ConversationUpdateInputSerializer,
        response=WRAPPED,
        errors=(404, 413, 422),
        conditional="write",
        tags=TAGS,
    ),
    destroy=SPEC.operation(
        operation_id="ai_conversations_delete",
        summary="Delete a conversation and its messages",
        parameters=[CONVERSATION_ID],
        response=EMPTY,
        errors=(404, 422),
        conditional="delete",
        tags=TAGS,
    ),
    add_message=SPEC.operation(
        operation_id="ai_conversations_add_message",
        summary="Add a message",
        description="Stores the message whatever the AI switch says (how a person takes over) "
        "and moves `last_message_at`.",
        parameters=[CONVERSATION_ID],
        request=s.MessageCreateInputSerializer,
        response=EMPTY,
        errors=(404, 413, 422),
        idempotent=True,
        tags=TAGS,
    ),
    messages=SPEC.operation(
        operation_id="ai_conversations_messages_list",
        summary="List a conversation's messages",
        description="Oldest first, paged by `page[number]` and `page[size]`.",
        parameters=[CONVERSATION_ID, *PAGE_PARAMETERS],
        response=inline(
            "ConversationMessageList",
            {
                "data": s.MessageOutputSerializer(many=True),
                "meta": inline(
                    "PaginationMeta",
                    {
                        "page_number": serializers.IntegerField(),
                        "page_size": serializers.IntegerField(),
                        "total_pages": serializers.IntegerField(),
                        "total_results": serializers.IntegerField(),
                    },
                ),
            },
        ),
        errors=(404, 422),
        tags=TAGS,
    ),
)

describe_view(
    views.AssistantViewSet,
    chat=SPEC.operation(
        operation_id="ai_assistants_chat",
        summary="Chat with an assistant",
        description="convstore runs no model: the reply comes from the configured chat "
        "responder (`CONVSTORE_CHAT_RESPONDER`). With the conversation's AI switched off "
        '(`ai_disabled` `"true"`) this answers 400 and stores nothing; otherwise it stores '
        "the user message and the reply. `stream` is accepted; the answer is always one JSON "
        "object.",
        parameters=[
            OpenApiParameter(
                "assistant_id", str, OpenApiParameter.PATH, description="Not interpreted."
            )
        ],
        request=s.ChatInputSerializer,
        response=inline("ChatResponse", {"content": raw_field({"type": "string"})}),
        errors=(400, 404, 413, 422, 501, 502),
        idempotent=True,
        error_descriptions={
            400: "`10015`: AI responses are disabled for this conversation "
            "(`metadata.ai_disabled=true`); nothing is stored.",
            501: "`10007`: no chat responder is configured (or it cannot be imported).",
            502: "`10007`: the chat responder failed; nothing is stored.",
        },
        tags=["Assistants"],
    ),
)


class TelnyxSchemaGenerator(FormatSchemaGenerator):
    """The Telnyx AI conversations format's document (``/telnyx/v2/openapi.json``)."""

    mount = "telnyx/v2/"
    url_patterns = telnyx_urlpatterns
    settings = format_settings(
        title="convstore — Telnyx AI Conversations API",
        description="Telnyx's AI conversations routes as convstore serves them: point the "
        "`telnyx` SDK at `http://HOST/telnyx/v2`. Errors are Telnyx's envelope "
        '`{"errors": [{code, title, detail, source?}]}`, except every 422, which is FastAPI\'s '
        '`{"detail": [{loc, msg, type}]}`. Every answer carries `x-request-id`; the '
        "`x-ms-user-isolation-key` header narrows the caller's partition.",
        spec=SPEC,
        prefix=r"/telnyx/v2",
        tags=[
            {"name": "Conversations", "description": "Conversations, metadata and messages."},
            {"name": "Assistants", "description": "Chat, with the AI switch enforced."},
        ],
    )
