"""OpenAI Conversations request and response shapes (``docs/contract.md`` §One store).

Input serializers check the *shape* of a request with OpenAI's error codes and params; the
metadata rules themselves are applied once, by the services. Output serializers render the
store's rows exactly as the ``openai`` SDK's models expect.
"""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers

from ...ids import prefixed
from ...metadata import contains_nul, json_type_name
from ...models import Conversation, Message
from ...services import MessageInput
from .errors import OpenAIParamError, a_type

MAX_ITEMS_PER_REQUEST = 20  # "You may add up to 20 items at a time." (SDK docstring, §2)
MESSAGE_ROLES = ("user", "assistant", "system", "developer")
TEXT_PART_TYPES = ("input_text", "output_text", "text", "summary_text", "reasoning_text")


def _invalid_type(param: str, expected: str, value) -> OpenAIParamError:
    return OpenAIParamError(
        f"Invalid type for '{param}': expected {expected}, but got "
        f"{a_type(json_type_name(value))} instead.",
        param=param,
        code="invalid_type",
    )


class OpenAIInputSerializer(serializers.Serializer):
    """Base for request bodies: a JSON object with only known parameters, required ones present.

    Raises :class:`OpenAIParamError` with OpenAI's codes: ``invalid_type`` (body not an
    object), ``unknown_parameter``, ``missing_required_parameter``.
    """

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise OpenAIParamError(
                f"Invalid body: expected a JSON object, but got {a_type(json_type_name(data))}"
                " instead.",
                param=None,
                code="invalid_type",
            )
        for name in data:
            if name not in self.fields:
                raise OpenAIParamError(
                    f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
                )
        for name, field in self.fields.items():
            if field.required and name not in data:
                raise OpenAIParamError(
                    f"Missing required parameter: '{name}'.",
                    param=name,
                    code="missing_required_parameter",
                )
        return {name: data[name] for name in self.fields if name in data}


def items_to_inputs(items) -> list[MessageInput]:
    """Check an ``items`` array (1–20 objects) and translate each item to a :class:`MessageInput`.

    Messages may be "easy" (``{"role", "content": "text"}``) or typed (``{"type": "message",
    "role", "content": [parts]}``); string content becomes one ``input_text`` part
    (``output_text`` for the assistant), as OpenAI stores it. Other item types (function
    calls, outputs, …) are stored as sent.
    """
    if not isinstance(items, list):
        raise _invalid_type("items", "an array", items)
    if not items:
        raise OpenAIParamError(
            "Invalid 'items': empty array. Expected an array with minimum length 1, but got an "
            "empty array instead.",
            param="items",
            code="empty_array",
        )
    if len(items) > MAX_ITEMS_PER_REQUEST:
        raise OpenAIParamError(
            f"Invalid 'items': array too long. Expected an array with maximum length "
            f"{MAX_ITEMS_PER_REQUEST}, but got an array with length {len(items)} instead.",
            param="items",
            code="array_above_max_length",
        )
    return [_item_to_input(item, f"items[{index}]") for index, item in enumerate(items)]


def _item_to_input(item, param: str) -> MessageInput:
    if not isinstance(item, Mapping):
        raise _invalid_type(param, "an object", item)
    if contains_nul(item):
        raise OpenAIParamError(
            f"Invalid '{param}': the NUL character (\\u0000) is not allowed.",
            param=param,
            code="invalid_value",
        )
    item_type = item.get("type", "message")
    if not isinstance(item_type, str) or not item_type:
        raise _invalid_type(f"{param}.type", "a string", item_type)
    if item_type != "message":
        payload = {k: v for k, v in item.items() if k != "id"}
        output = item.get("output")
        return MessageInput(
            item_type=item_type,
            role="tool" if item_type.endswith("_output") else "",
            content=output if isinstance(output, str) else "",
            payload=payload,
            status=item.get("status") if isinstance(item.get("status"), str) else "completed",
        )
    role = item.get("role")
    if role is None:
        raise OpenAIParamError(
            f"Missing required parameter: '{param}.role'.",
            param=f"{param}.role",
            code="missing_required_parameter",
        )
    if role not in MESSAGE_ROLES:
        raise OpenAIParamError(
            f"Invalid value: '{role}'. Supported values are: 'assistant', 'system', "
            "'developer', and 'user'.",
            param=f"{param}.role",
            code="invalid_value",
        )
    if "content" not in item:
        raise OpenAIParamError(
            f"Missing required parameter: '{param}.content'.",
            param=f"{param}.content",
            code="missing_required_parameter",
        )
    content = item["content"]
    if isinstance(content, str):
        parts = [_text_part(role, content)]
    elif isinstance(content, list):
        for index, part in enumerate(content):
            if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
                raise _invalid_type(f"{param}.content[{index}]", "an object with a type", part)
        parts = [dict(part) for part in content]
    else:
        raise _invalid_type(f"{param}.content", "one of a string or array", content)
    text = "\n".join(
        part["text"]
        for part in parts
        if part["type"] in TEXT_PART_TYPES and isinstance(part.get("text"), str)
    )
    status = item.get("status")
    return MessageInput(
        role=role,
        content=text,
        content_parts=parts,
        status=status if isinstance(status, str) else "completed",
    )


def _text_part(role: str, text: str) -> dict:
    if role == "assistant":
        return {"type": "output_text", "text": text, "annotations": []}
    return {"type": "input_text", "text": text}


class ConversationCreateInputSerializer(OpenAIInputSerializer):
    """``POST /conversations``: ``{"items"?: [...] (≤ 20), "metadata"?: {...} | null}``."""

    items = serializers.JSONField(required=False)
    metadata = serializers.JSONField(required=False)


class ConversationUpdateInputSerializer(OpenAIInputSerializer):
    """``POST /conversations/{id}``: ``{"metadata": {...} | null}`` (required, as in the SDK)."""

    metadata = serializers.JSONField(required=True)


class ItemsCreateInputSerializer(OpenAIInputSerializer):
    """``POST /conversations/{id}/items``: ``{"items": [...]}`` (1–20 items)."""

    items = serializers.JSONField(required=True)


class ConversationOutputSerializer(serializers.BaseSerializer):
    """``Conversation``: ``{"id": "conv_…", "object": "conversation", "created_at": <unix s>,
    "metadata": {...}}`` (§4.1; cleared metadata renders as ``{}``)."""

    def to_representation(self, instance: Conversation) -> dict:
        return {
            "id": prefixed(instance.id, "conv"),
            "object": "conversation",
            "created_at": int(instance.created_at.timestamp()),
            "metadata": instance.metadata or {},
        }


class ItemOutputSerializer(serializers.BaseSerializer):
    """A ``ConversationItem``: a ``Message`` (§4.5) or a stored non-message item.

    Messages written through Telnyx or AgentPhone have no content parts; their text renders
    as one ``input_text`` part (``output_text`` for the assistant).
    """

    def to_representation(self, instance: Message) -> dict:
        item_id = prefixed(instance.public_id, "msg")
        if instance.item_type != "message":
            data = dict(instance.payload or {})
            data.update(id=item_id, type=instance.item_type)
            data.setdefault("status", instance.status)
            return data
        return {
            "type": "message",
            "id": item_id,
            "status": instance.status,
            "role": instance.role or "unknown",
            "content": instance.content_parts or [_text_part(instance.role, instance.content)],
        }


def item_list_payload(items: list[Message], has_more: bool) -> dict:
    """``ConversationItemList``: ``{"object": "list", "data", "first_id", "last_id", "has_more"}``.

    ``first_id``/``last_id`` are ``null`` for an empty page (§4.3–4.4).
    """
    data = [ItemOutputSerializer(item).data for item in items]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }
