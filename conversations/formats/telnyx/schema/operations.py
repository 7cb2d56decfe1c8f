"""OpenAPI operations of the Telnyx AI conversations format: the path, filter and paging
parameters, the format's :class:`~conversations.formats.schema.FormatSpec` (``SPEC``: error
bodies and descriptions) and the ``extend_schema`` decorations of the real viewsets of
:mod:`conversations.formats.telnyx.views`, applied on import.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from drf_spectacular.utils import inline_serializer as inline
from rest_framework import serializers

from conversations.formats.schema import QUERY, FormatSpec, describe_view, raw_field
from conversations.formats.telnyx import serializers as s
from conversations.formats.telnyx import views
from conversations.formats.telnyx.filters import MAX_LIMIT, MAX_OFFSET
from conversations.formats.telnyx.schema.components import (
    COMPONENTS,
    EITHER,
    ENVELOPE,
    METADATA_PATCH,
    VALIDATION,
)
from conversations.formats.telnyx.views import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

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
