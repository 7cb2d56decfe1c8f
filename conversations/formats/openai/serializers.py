"""OpenAI Conversations request and response shapes (``docs/contract.md`` §One store).

Input serializers check the *shape* of a request with OpenAI's error codes and params; the
metadata rules themselves are applied once, by the services. Output serializers render the
store's rows exactly as the ``openai`` SDK's models expect.
"""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers

from conversations.domain.handoff import effective_metadata
from conversations.domain.ids import prefixed
from conversations.domain.metadata import json_type_name
from conversations.formats.openai import items as item_types
from conversations.formats.openai.errors import OpenAIParamError, a_type, invalid_type
from conversations.models import Conversation, Message
from conversations.services import MessageInput

MAX_ITEMS_PER_REQUEST = 20  # "You may add up to 20 items at a time." (SDK docstring, §2)


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


def items_to_inputs(items, *, minimum: int = 1, resolve=None) -> list[MessageInput]:
    """Check an ``items`` array (``minimum``–20 objects) and translate each to a
    :class:`MessageInput` (:func:`.items.item_to_input`). Creating a conversation takes
    ``minimum=0`` (OpenAI's create takes "up to 20" initial items, none required); adding
    items takes 1–20.

    An ``item_reference`` (``{"type": "item_reference", "id": …}``) is replaced by a copy of
    the item it names, found by ``resolve(id) -> Message | None`` (the caller's partition);
    an unknown id is a 400 on ``items[i].id``.
    """
    if not isinstance(items, list):
        raise invalid_type("items", "an array", items)
    if len(items) < minimum:
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
    inputs = []
    for index, item in enumerate(items):
        param = f"items[{index}]"
        if isinstance(item, Mapping) and item.get("type") == item_types.ITEM_REFERENCE:
            item = _referenced(item, param, resolve)
        inputs.append(item_types.item_to_input(item, param))
    return inputs


def _referenced(item: Mapping, param: str, resolve) -> dict:
    ref = item.get("id")
    if not isinstance(ref, str):
        raise invalid_type(f"{param}.id", "a string", ref)
    found = resolve(ref) if resolve is not None and ref else None
    if found is None:
        raise OpenAIParamError(
            f"Item with id '{ref[: item_types.ID_MAX_LENGTH]}' not found.",
            param=f"{param}.id",
            code="invalid_value",
        )
    return item_types.copy_item(found)


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
            "metadata": effective_metadata(instance) or {},
        }


class ItemOutputSerializer(serializers.BaseSerializer):
    """A ``ConversationItem`` (:func:`.items.render_item`); ``context={"include": …}`` names
    the governed fields to return."""

    def to_representation(self, instance: Message) -> dict:
        return item_types.render_item(instance, self.context.get("include", frozenset()))


def item_list_payload(
    items: list[Message], has_more: bool, include: frozenset[str] = frozenset()
) -> dict:
    """``ConversationItemList``: ``{"object": "list", "data", "first_id", "last_id", "has_more"}``.

    ``first_id``/``last_id`` are ``null`` for an empty page (§4.3–4.4).
    """
    data = [item_types.render_item(item, include) for item in items]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }
