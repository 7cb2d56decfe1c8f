"""OpenAPI description of the AgentPhone format (``/agentphone/v1``, the SDK's base URL plus the
``/v1`` it appends).

The real viewsets of :mod:`.views` are decorated here and the real (hand-written)
serializers of :mod:`.serializers` described by serializer extensions. Shapes follow
``docs/contract.md`` §Sources, AgentPhone; served at ``/agentphone/v1/openapi.json``.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers

from conversations.domain.metadata import HANDOFF_NOTE, MAX_KEY_LENGTH, MAX_PAIRS, MAX_VALUE_LENGTH
from conversations.formats.agentphone import serializers as s
from conversations.formats.agentphone import views
from conversations.formats.agentphone.urls import agentphone_urlpatterns
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

_KEY_NAMES = {"minLength": 1, "maxLength": MAX_KEY_LENGTH}
METADATA = {
    "type": ["object", "null"],
    "description": f"Up to {MAX_PAIRS} string pairs: keys 1–{MAX_KEY_LENGTH} characters, values "
    f"at most {MAX_VALUE_LENGTH}; `null` once cleared.",
    "maxProperties": MAX_PAIRS,
    "propertyNames": _KEY_NAMES,
    "additionalProperties": {"type": "string", "maxLength": MAX_VALUE_LENGTH},
}
METADATA_INPUT = {
    **METADATA,
    "description": 'Replaces the stored object (AgentPhone: "Replaces the stored object"); '
    "`{}` empties it, `null` clears it to `null`; absent: unchanged. `ai_disabled` also takes "
    "a boolean." + HANDOFF_NOTE,
    "properties": {
        "ai_disabled": {
            "anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["true", "false"]}]
        }
    },
}
TIME = {
    "type": "string",
    "description": "ISO 8601, UTC, with microseconds (`2025-01-15T12:00:00.123456Z`).",
}
NULLABLE_TIME = {**TIME, "type": ["string", "null"]}
CONV_ID = {"type": "string", "pattern": "^conv_[0-9a-f]{32}$"}
NULLABLE_STRING = {"type": ["string", "null"]}

COMPONENTS = {
    **FASTAPI_VALIDATION_COMPONENTS,
    "HTTPError": {
        "type": "object",
        "description": 'FastAPI\'s error body, e.g. `{"detail": "Conversation not found"}`.',
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "Reaction": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "reactionType": {"type": "string"},
            "fromNumber": {"type": "string"},
            "direction": {"type": "string"},
            "createdAt": {"type": "string"},
        },
        "required": ["id", "reactionType", "fromNumber", "direction", "createdAt"],
    },
}


class ConversationUpdateInput(SerializerSchema):
    """:class:`~.serializers.ConversationUpdateInputSerializer`."""

    target_class = s.ConversationUpdateInputSerializer
    name = "UpdateConversationRequest"
    schema = {
        "type": "object",
        "description": "Each field is changed only when present; unknown keys are ignored.",
        "properties": {
            "metadata": METADATA_INPUT,
            "group_name": {
                "type": ["string", "null"],
                "maxLength": s.GROUP_NAME_MAX_LENGTH,
                "description": "Renames the conversation.",
            },
        },
    }


class MessageOutput(SerializerSchema):
    """:class:`~.serializers.MessageOutputSerializer` (``Message``, §B.2)."""

    target_class = s.MessageOutputSerializer
    name = "Message"

    def map_serializer(self, auto_schema, direction):
        properties = {
            "id": {"type": "string", "pattern": "^msg_[0-9a-f]{32}$"},
            "conversationId": CONV_ID,
            "body": {"type": "string"},
            "fromNumber": {"type": "string"},
            "toNumber": {"type": "string"},
            "direction": {"type": "string", "enum": ["inbound", "outbound"]},
            "senderIdentifier": NULLABLE_STRING,
            "channel": NULLABLE_STRING,
            "mediaUrl": NULLABLE_STRING,
            "mediaUrls": {"type": "array", "items": {"type": "string"}},
            "receivedAt": {
                **TIME,
                "description": "When convstore stored the message; the "
                "field `before`/`after` compare. " + TIME["description"],
            },
            "reactions": {"type": "array", "items": ref("Reaction")},
            "replyTo": {"type": ["object", "null"]},
        }
        return {"type": "object", "properties": properties, "required": list(properties)}


class ConversationOutput(SerializerSchema):
    """:class:`~.serializers.ConversationOutputSerializer`: a ``ConversationSummary``, or with
    its recent messages a ``ConversationDetail`` (§B.2)."""

    target_class = s.ConversationOutputSerializer
    name = "Conversation"

    def map_serializer(self, auto_schema, direction):
        properties = {
            "id": CONV_ID,
            "agentId": NULLABLE_STRING,
            "phoneNumberId": {"type": "string"},
            "phoneNumber": {"type": "string"},
            "participant": {"type": "string"},
            "channel": NULLABLE_STRING,
            "isGroup": {"type": "boolean"},
            "groupId": NULLABLE_STRING,
            "groupName": NULLABLE_STRING,
            "groupIconUrl": NULLABLE_STRING,
            "participants": {"type": ["array", "null"], "items": {"type": "string"}},
            "lastMessageAt": NULLABLE_TIME,
            "lastMessagePreview": {"type": "string"},
            "messageCount": {"type": "integer", "minimum": 0},
            "metadata": METADATA,
            "createdAt": TIME,
        }
        required = list(properties)
        properties["messages"] = {
            "type": "array",
            "items": ref("Message"),
            "description": "Only on a single conversation: its most recent messages, newest first.",
        }
        return {"type": "object", "properties": properties, "required": required}


CONVERSATION_ID = OpenApiParameter(
    "conversation_id",
    str,
    OpenApiParameter.PATH,
    description="`conv_` + 32 hex, 32 hex, or the dashed UUID.",
)


def _int(name: str, low: int, high: int, default: int, description: str) -> OpenApiParameter:
    schema = {"type": "integer", "minimum": low, "maximum": high, "default": default}
    return OpenApiParameter(name, schema, QUERY, description=description)


def _time(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, {"type": "string"}, QUERY, description=description)


SPEC = FormatSpec(
    errors={**dict.fromkeys(range(400, 600), ref("HTTPError")), 422: ref("HTTPValidationError")},
    components=COMPONENTS,
    descriptions={
        400: "The `x-ms-user-isolation-key` header is too long.",
        401: '`{"detail": "Not authenticated"}` (no key) or `{"detail": "Invalid API key"}`.',
        404: '`{"detail": "Conversation not found"}`: unknown, malformed, or another '
        "project's or isolation key's id.",
        422: "FastAPI's validation error: invalid metadata, bad parameters, malformed JSON.",
    },
)
TAGS = ["Conversations"]
DETAIL = s.ConversationOutputSerializer

describe_view(
    views.ConversationViewSet,
    list=SPEC.operation(
        operation_id="conversations_list",
        summary="List conversations",
        description="Newest activity (`lastMessageAt`) first.",
        parameters=[
            _int(
                "limit",
                1,
                views.CONVERSATIONS_MAX,
                views.CONVERSATIONS_DEFAULT,
                f"1–{views.CONVERSATIONS_MAX}.",
            ),
            _int("offset", 0, 2**31 - 1, 0, "Conversations to skip."),
        ],
        response=inline_serializer(
            "ConversationList",
            {
                "data": s.ConversationOutputSerializer(many=True),
                "hasMore": serializers.BooleanField(),
                "total": serializers.IntegerField(),
            },
        ),
        errors=(400, 422),
        tags=TAGS,
    ),
    retrieve=SPEC.operation(
        operation_id="conversations_get",
        summary="Get a conversation with its recent messages",
        parameters=[
            CONVERSATION_ID,
            _int(
                "message_limit",
                0,
                views.DETAIL_MESSAGES_MAX,
                views.DETAIL_MESSAGES_DEFAULT,
                "How many of the most recent messages to include (newest first).",
            ),
        ],
        response=DETAIL,
        errors=(400, 404, 422),
        conditional="read",
        tags=TAGS,
    ),
    partial_update=SPEC.operation(
        operation_id="conversations_update",
        summary="Update a conversation (metadata replaced)",
        description=METADATA_INPUT["description"] + " `group_name` renames.",
        parameters=[CONVERSATION_ID],
        request=s.ConversationUpdateInputSerializer,
        response=DETAIL,
        errors=(400, 404, 413, 415, 422),
        conditional="write",
        tags=TAGS,
    ),
)
describe_view(
    views.MessageViewSet,
    list=SPEC.operation(
        operation_id="conversations_get_messages",
        summary="List a conversation's messages",
        description="Newest first; with `after` alone, oldest first (convstore's choice). Pass a "
        "page's last `receivedAt` as the next cursor.",
        parameters=[
            CONVERSATION_ID,
            _int(
                "limit", 1, views.MESSAGES_MAX, views.MESSAGES_DEFAULT, f"1–{views.MESSAGES_MAX}."
            ),
            _time("before", "Only messages received before this ISO 8601 time (exclusive)."),
            _time("after", "Only messages received after this ISO 8601 time (exclusive)."),
        ],
        response=inline_serializer(
            "MessageList",
            {
                "data": s.MessageOutputSerializer(many=True),
                "hasMore": raw_field({"type": "boolean"}),
            },
        ),
        errors=(400, 404, 422),
        tags=TAGS,
    ),
)


class AgentPhoneSchemaGenerator(FormatSchemaGenerator):
    """The AgentPhone format's document (``/agentphone/v1/openapi.json``)."""

    mount = "agentphone/"
    url_patterns = agentphone_urlpatterns
    settings = format_settings(
        title="convstore — AgentPhone Conversations API",
        description="AgentPhone's conversation routes as convstore serves them: point the "
        "`agentphone` SDK at `http://HOST/agentphone` (it appends `/v1`). camelCase, ISO 8601 "
        "UTC times with microseconds, ids `conv_`/`msg_` + 32 hex. Errors are FastAPI's: "
        '`{"detail": "…"}`, and `{"detail": [{loc, msg, type}]}` for every 422. Every '
        "answer carries `x-request-id`; the `x-ms-user-isolation-key` header narrows the "
        "caller's partition.",
        spec=SPEC,
        prefix=r"/agentphone/v1",
        tags=[{"name": "Conversations", "description": "Conversations, metadata and messages."}],
    )
