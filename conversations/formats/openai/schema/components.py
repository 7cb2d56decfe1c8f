"""OpenAPI components of the OpenAI and Azure OpenAI v1 formats: the wire shapes (metadata,
input items, ids), the ``OpenAIError`` envelope, and the serializer extensions that describe the
real serializers of :mod:`conversations.formats.openai.serializers` (they parse and render by
hand, so drf-spectacular cannot read their shapes from fields).

Shapes follow ``docs/contract.md``. Both formats share every component here.
"""

from __future__ import annotations

from conversations.domain.metadata import HANDOFF_NOTE, MAX_KEY_LENGTH, MAX_PAIRS, MAX_VALUE_LENGTH
from conversations.formats.openai import items as item_types
from conversations.formats.openai import serializers as s
from conversations.formats.schema import SerializerSchema, ref

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
