"""OpenAPI operations of the OpenAI and Azure OpenAI v1 formats: the path and query
parameters, the list and deleted-resource bodies, each format's
:class:`~conversations.formats.schema.FormatSpec` (``OPENAI``, ``AZURE``: error bodies and
headers) and the ``extend_schema`` decorations of the real viewsets of
:mod:`conversations.formats.openai.views`, applied on import.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema_view, inline_serializer
from rest_framework import serializers

from conversations.formats.openai import items as item_types
from conversations.formats.openai import serializers as s
from conversations.formats.openai import views
from conversations.formats.openai.schema.components import COMPONENTS, ERROR, METADATA_PATCH
from conversations.formats.openai.views import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from conversations.formats.schema import (
    HEADER,
    ISOLATION_KEY,
    QUERY,
    REQUEST_ID,
    RETRY_AFTER,
    FormatSpec,
    const_field,
)

CONVERSATION_ID = OpenApiParameter(
    "conversation_id",
    str,
    OpenApiParameter.PATH,
    description="`conv_` + 32 hex, 32 hex, or the dashed UUID.",
)
ITEM_ID_PARAM = OpenApiParameter(
    "item_id",
    str,
    OpenApiParameter.PATH,
    description="The item's id as listed (`msg_…`, `fc_…`, a sent id), 32 hex, or a UUID.",
)
ITEM_LIST = inline_serializer(
    "ConversationItemList",
    {
        "object": const_field("list"),
        "data": s.ItemOutputSerializer(many=True),
        "first_id": serializers.CharField(allow_null=True),
        "last_id": serializers.CharField(allow_null=True),
        "has_more": serializers.BooleanField(),
    },
)
DELETED = inline_serializer(
    "ConversationDeletedResource",
    {
        "id": serializers.CharField(),
        "object": const_field("conversation.deleted"),
        "deleted": serializers.BooleanField(),
    },
)
LIST_PARAMETERS = [
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE},
        QUERY,
        description=f"Items per page, 1–{MAX_PAGE_SIZE}.",
    ),
    OpenApiParameter(
        "order",
        {"type": "string", "enum": ["asc", "desc"], "default": "desc"},
        QUERY,
        description="`asc`: oldest first; `desc`: newest first.",
    ),
    OpenApiParameter(
        "after",
        str,
        QUERY,
        description="An item id of this conversation: the page starts after it (a page's "
        "`last_id`). Not an item of the conversation: 400 `invalid_value`.",
    ),
]
INCLUDE = OpenApiParameter(
    "include[]",
    {"type": "array", "items": {"type": "string", "enum": list(item_types.INCLUDABLE)}},
    QUERY,
    description="Governed fields to return (left out otherwise); `include=…` is accepted too.",
)


CONVERSATION_LIST = inline_serializer(
    "ConversationList",
    {
        "object": const_field("list"),
        "data": s.ConversationOutputSerializer(many=True),
        "first_id": serializers.CharField(allow_null=True),
        "last_id": serializers.CharField(allow_null=True),
        "has_more": serializers.BooleanField(),
    },
)
CONVERSATION_LIST_PARAMETERS = [
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
        QUERY,
        description="Conversations per page, 1–100.",
    ),
    OpenApiParameter(
        "order",
        {"type": "string", "enum": ["asc", "desc"], "default": "desc"},
        QUERY,
        description="By `created_at`: `asc` oldest first, `desc` newest first.",
    ),
    OpenApiParameter("after", str, QUERY, description="A conversation id: the page after it."),
    OpenApiParameter("before", str, QUERY, description="A conversation id: the page before it."),
    OpenApiParameter("agent_name", str, QUERY, description="Azure's agent filter."),
    OpenApiParameter("agent_id", str, QUERY, description="Azure's agent filter."),
    OpenApiParameter(
        "metadata",
        {"type": "object", "additionalProperties": {"type": "string"}},
        QUERY,
        style="deepObject",
        explode=True,
        description="`metadata[KEY]=VALUE` filters, repeatable, ANDed (convstore's).",
    ),
]


def _conversation_list(spec: FormatSpec):
    """``GET /conversations`` (Azure v1's list, also on the OpenAI base URL: convstore's)."""
    return spec.operation(
        operation_id="conversations_list",
        summary="List conversations",
        description="The caller's partition only, paged by conversation-id cursors.",
        parameters=CONVERSATION_LIST_PARAMETERS,
        response=CONVERSATION_LIST,
        errors=(400,),
        tags=["Conversations"],
    )


def describe(conversation_viewset, item_viewset, spec: FormatSpec) -> None:
    """Decorate one pair of OpenAI-route viewsets with the operations of ``spec``."""
    conversations, items = ["Conversations"], ["Items"]
    if hasattr(conversation_viewset, "list"):  # the listing route, where it is served
        extend_schema_view(list=_conversation_list(spec))(conversation_viewset)
    extend_schema_view(
        create=spec.operation(
            operation_id="conversations_create",
            summary="Create a conversation",
            description="Creates a conversation in the caller's partition, with up to 20 "
            "initial items.",
            request=s.ConversationCreateInputSerializer,
            response=s.ConversationOutputSerializer,
            errors=(400, 413, 415),
            idempotent=True,
            conditional=None,
            tags=conversations,
        ),
        retrieve=spec.operation(
            operation_id="conversations_retrieve",
            summary="Retrieve a conversation",
            parameters=[CONVERSATION_ID],
            response=s.ConversationOutputSerializer,
            errors=(400, 404),
            conditional="read",
            tags=conversations,
        ),
        update=spec.operation(
            operation_id="conversations_update",
            summary="Update a conversation's metadata (merge)",
            description=METADATA_PATCH["description"],
            parameters=[CONVERSATION_ID],
            request=s.ConversationUpdateInputSerializer,
            response=s.ConversationOutputSerializer,
            errors=(400, 404, 413, 415),
            conditional="write",
            tags=conversations,
        ),
        destroy=spec.operation(
            operation_id="conversations_delete",
            summary="Delete a conversation and its items",
            parameters=[CONVERSATION_ID],
            response=DELETED,
            errors=(400, 404),
            conditional="delete",
            tags=conversations,
        ),
    )(conversation_viewset)
    extend_schema_view(
        create=spec.operation(
            operation_id="conversations_items_create",
            summary="Add items to a conversation",
            parameters=[CONVERSATION_ID, INCLUDE],
            request=s.ItemsCreateInputSerializer,
            response=ITEM_LIST,
            errors=(400, 404, 413, 415),
            idempotent=True,
            tags=items,
        ),
        list=spec.operation(
            operation_id="conversations_items_list",
            summary="List a conversation's items",
            parameters=[CONVERSATION_ID, *LIST_PARAMETERS, INCLUDE],
            response=ITEM_LIST,
            errors=(400, 404),
            tags=items,
        ),
        retrieve=spec.operation(
            operation_id="conversations_items_retrieve",
            summary="Retrieve an item",
            parameters=[CONVERSATION_ID, ITEM_ID_PARAM, INCLUDE],
            response=s.ItemOutputSerializer,
            errors=(400, 404),
            tags=items,
        ),
        destroy=spec.operation(
            operation_id="conversations_items_delete",
            summary="Delete an item",
            description="Answers the parent conversation, as the SDK expects.",
            parameters=[CONVERSATION_ID, ITEM_ID_PARAM],
            response=s.ConversationOutputSerializer,
            errors=(400, 404),
            tags=items,
        ),
    )(item_viewset)


OPENAI = FormatSpec(errors=dict.fromkeys(range(400, 600), ERROR), components=COMPONENTS)
APIM_REQUEST_ID = OpenApiParameter(
    "apim-request-id",
    str,
    HEADER,
    required=True,
    response=True,
    description="The request's id, as Azure's API gateway names it (same as `x-request-id`).",
)
API_VERSION = OpenApiParameter(
    "api-version", str, QUERY, description="Accepted and ignored (`preview`, `v1`, …)."
)
AZURE = FormatSpec(
    errors=OPENAI.errors,
    components=COMPONENTS,
    parameters=(ISOLATION_KEY, REQUEST_ID, RETRY_AFTER, APIM_REQUEST_ID, API_VERSION),
)

describe(views.ConversationViewSet, views.ItemViewSet, OPENAI)
describe(views.AzureConversationViewSet, views.AzureItemViewSet, AZURE)
