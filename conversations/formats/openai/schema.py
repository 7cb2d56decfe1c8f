"""OpenAPI descriptions of the OpenAI (``/openai/v1``) and Azure OpenAI v1 (``/azure/openai/v1``)
formats: the real viewsets of :mod:`.views`, decorated here, and the real serializers of
:mod:`.serializers`, described by serializer extensions (they parse and render by hand, so
drf-spectacular cannot read their shapes from fields).

Shapes follow ``docs/contract.md``; the documents are served at
``/openai/v1/openapi.json`` and ``/azure/openai/v1/openapi.json``.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema_view, inline_serializer
from rest_framework import serializers

from conversations.domain.metadata import HANDOFF_NOTE, MAX_KEY_LENGTH, MAX_PAIRS, MAX_VALUE_LENGTH
from conversations.formats.openai import items as item_types
from conversations.formats.openai import serializers as s
from conversations.formats.openai import views
from conversations.formats.openai.urls import azure_urlpatterns, openai_urlpatterns
from conversations.formats.openai.views import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from conversations.formats.schema import (
    HEADER,
    ISOLATION_KEY,
    QUERY,
    REQUEST_ID,
    RETRY_AFTER,
    FormatSchemaGenerator,
    FormatSpec,
    SerializerSchema,
    const_field,
    format_settings,
    ref,
)

# -- wire shapes ---------------------------------------------------------------------------------

_KEY_NAMES = {"minLength": 1, "maxLength": MAX_KEY_LENGTH}
AI_DISABLED_INPUT = {
    "anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["true", "false"]}],
    "description": '`true` switches AI replies off for the conversation; stored as "true"/"false".',
}
METADATA = {
    "type": "object",
    "description": f"Up to {MAX_PAIRS} string pairs: keys 1–{MAX_KEY_LENGTH} characters, values "
    f"at most {MAX_VALUE_LENGTH} characters.",
    "maxProperties": MAX_PAIRS,
    "propertyNames": _KEY_NAMES,
    "additionalProperties": {"type": "string", "maxLength": MAX_VALUE_LENGTH},
}
METADATA_INPUT = {
    "type": ["object", "null"],
    "description": METADATA["description"]
    + " `ai_disabled` also accepts a boolean."
    + HANDOFF_NOTE,
    "maxProperties": MAX_PAIRS,
    "propertyNames": _KEY_NAMES,
    "properties": {"ai_disabled": AI_DISABLED_INPUT},
    "additionalProperties": {"type": "string", "maxLength": MAX_VALUE_LENGTH},
}
METADATA_PATCH = {
    "type": ["object", "null"],
    "description": "Merged into the stored metadata: keys sent are set, a key sent as `null` is "
    "removed; `null` clears every key (convstore's choice, OpenAI documents none). The "
    f"{MAX_PAIRS}-pair limit applies to the merged result.",
    "maxProperties": MAX_PAIRS,
    "propertyNames": _KEY_NAMES,
    "properties": {"ai_disabled": {"anyOf": [*AI_DISABLED_INPUT["anyOf"], {"type": "null"}]}},
    "additionalProperties": {"type": ["string", "null"], "maxLength": MAX_VALUE_LENGTH},
}
CONTENT_PART = {
    "type": "object",
    "description": "A content part (`input_text`, `output_text`, …), stored as sent.",
    "properties": {"type": {"type": "string"}, "text": {"type": "string"}},
    "required": ["type"],
}
INPUT_MESSAGE = {
    "type": "object",
    "title": "Message",
    "description": "A message; string content is stored as one `input_text` part "
    "(`output_text` for the assistant).",
    "properties": {
        "type": {"type": "string", "const": "message"},
        "role": {"type": "string", "enum": list(item_types.MESSAGE_ROLES)},
        "content": {
            "anyOf": [{"type": "string"}, {"type": "array", "items": CONTENT_PART}],
        },
        "status": {"type": "string"},
    },
    "required": ["role", "content"],
}


def _input_item(name: str, spec: item_types.ItemType) -> dict:
    """One non-message type of the item union: its required fields (as the SDK types them);
    any other field is stored as sent."""
    item_id = {"type": "string", "minLength": 1, "maxLength": item_types.ID_MAX_LENGTH}
    if spec.checked:
        item_id["pattern"] = f"^{spec.prefix}"
    properties = {"type": {"type": "string", "const": name}, "id": item_id}
    properties.update(
        (field, {"type": list(types)} if types else {}) for field, types in spec.required.items()
    )
    return {
        "type": "object",
        "title": name,
        "description": f"Stored as sent; an id is issued as `{spec.prefix}_` + 32 hex when none "
        "is sent.",
        "properties": properties,
        "required": ["type", *spec.required],
    }


INPUT_OTHER_ITEMS = [
    _input_item(name, spec) for name, spec in item_types.ITEM_TYPES.items() if name != "message"
]
INPUT_ITEM_REFERENCE = {
    "type": "object",
    "title": "item_reference",
    "description": "A copy of the named item of this partition is stored (with an id of its own).",
    "properties": {"type": {"const": "item_reference"}, "id": {"type": "string"}},
    "required": ["type", "id"],
}
INPUT_ITEMS = {
    "type": "array",
    "minItems": 1,
    "maxItems": s.MAX_ITEMS_PER_REQUEST,
    "items": {"anyOf": [INPUT_MESSAGE, *INPUT_OTHER_ITEMS, INPUT_ITEM_REFERENCE]},
}
ID = {"type": "string", "pattern": "^conv_[0-9a-f]{32}$", "examples": ["conv_" + "0" * 32]}
ITEM_ID = {
    "type": "string",
    "description": "The id sent with the item, else the type's prefix + `_` + 32 hex "
    "(`msg_`, `fc_`, `rs_`, …).",
}

COMPONENTS = {
    "OpenAIError": {
        "type": "object",
        "description": "OpenAI's error envelope (`docs/contract.md` §Errors).",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string", "examples": ["invalid_request_error"]},
                    "param": {"type": ["string", "null"]},
                    "code": {"type": ["string", "null"]},
                },
                "required": ["message", "type", "param", "code"],
            }
        },
        "required": ["error"],
    },
}
ERROR = ref("OpenAIError")


class ConversationCreateInput(SerializerSchema):
    """:class:`~.serializers.ConversationCreateInputSerializer`."""

    target_class = s.ConversationCreateInputSerializer
    name = "ConversationCreateParams"
    schema = {
        "type": "object",
        "properties": {
            "items": {**INPUT_ITEMS, "minItems": 0, "description": "Initial items (up to 20)."},
            "metadata": METADATA_INPUT,
        },
        "additionalProperties": False,
    }


class ConversationUpdateInput(SerializerSchema):
    """:class:`~.serializers.ConversationUpdateInputSerializer`."""

    target_class = s.ConversationUpdateInputSerializer
    name = "ConversationUpdateParams"
    schema = {
        "type": "object",
        "properties": {"metadata": METADATA_PATCH},
        "required": ["metadata"],
        "additionalProperties": False,
    }


class ItemsCreateInput(SerializerSchema):
    """:class:`~.serializers.ItemsCreateInputSerializer`."""

    target_class = s.ItemsCreateInputSerializer
    name = "ItemCreateParams"
    schema = {
        "type": "object",
        "properties": {"items": INPUT_ITEMS},
        "required": ["items"],
        "additionalProperties": False,
    }


class ConversationOutput(SerializerSchema):
    """:class:`~.serializers.ConversationOutputSerializer` (``Conversation``, §4.1)."""

    target_class = s.ConversationOutputSerializer
    name = "Conversation"
    schema = {
        "type": "object",
        "properties": {
            "id": ID,
            "object": {"type": "string", "const": "conversation"},
            "created_at": {"type": "integer", "description": "Unix seconds."},
            "metadata": {**METADATA, "description": "Cleared metadata renders as `{}`."},
        },
        "required": ["id", "object", "created_at", "metadata"],
    }


class ItemOutput(SerializerSchema):
    """:class:`~.serializers.ItemOutputSerializer` (``ConversationItem``, §4.5)."""

    target_class = s.ItemOutputSerializer
    name = "ConversationItem"

    def map_serializer(self, auto_schema, direction):
        message = {
            "type": "object",
            "title": "Message",
            "properties": {
                "type": {"type": "string", "const": "message"},
                "id": ITEM_ID,
                "status": {"type": "string", "examples": ["completed"]},
                "role": {
                    "type": "string",
                    "description": "`user`, `assistant`, `system`, `developer`, `tool`, or "
                    "`unknown` for a message stored without one.",
                },
                "content": {"type": "array", "items": CONTENT_PART},
            },
            "required": ["type", "id", "status", "role", "content"],
        }
        other = {
            "type": "object",
            "title": "Other item",
            "description": "A stored non-message item, as sent, with its id (and `status` "
            "where the type has one); fields governed by `include` only when included.",
            "properties": {"type": {"type": "string"}, "id": ITEM_ID},
            "required": ["type", "id"],
        }
        return {"anyOf": [message, other]}


# -- operations ----------------------------------------------------------------------------------

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

_TAGS = [
    {"name": "Conversations", "description": "Conversations and their metadata."},
    {"name": "Items", "description": "A conversation's items (messages and other items)."},
]
_COMMON = (
    "Every error is OpenAI's envelope `{\"error\": {message, type, param, code}}` with OpenAI's "
    "codes and wording. Every answer carries `x-request-id`. The `x-ms-user-isolation-key` "
    "header narrows the caller's partition."
)


class OpenAISchemaGenerator(FormatSchemaGenerator):
    """The OpenAI Conversations format's document (``/openai/v1/openapi.json``)."""

    mount = "openai/v1/"
    url_patterns = openai_urlpatterns
    settings = format_settings(
        title="convstore — OpenAI Conversations API",
        description="The OpenAI Conversations API as convstore serves it: point the `openai` SDK "
        "at `http://HOST/openai/v1`. " + _COMMON,
        spec=OPENAI,
        prefix=r"/openai/v1",
        tags=_TAGS,
    )


class AzureSchemaGenerator(FormatSchemaGenerator):
    """The Azure OpenAI v1 format's document (``/azure/openai/v1/openapi.json``)."""

    mount = "azure/openai/v1/"
    url_patterns = azure_urlpatterns
    settings = format_settings(
        title="convstore — Azure OpenAI v1 Conversations API",
        description="Azure OpenAI v1's conversation routes as convstore serves them: point "
        "`openai.AzureOpenAI` at `http://HOST/azure/openai/v1/` (also served without `/v1`). "
        "Authenticate with `api-key` or Bearer; `api-version` is ignored; answers also carry "
        "`apim-request-id`. " + _COMMON,
        spec=AZURE,
        prefix=r"/azure/openai/v1",
        tags=_TAGS,
    )
