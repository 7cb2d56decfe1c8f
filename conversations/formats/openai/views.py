"""OpenAI Conversations viewsets, and their Azure OpenAI v1 variant.

Routes (relative to the SDK base URL, ``docs/contract.md`` §One store):
``POST /conversations``; ``GET·POST·DELETE /conversations/{id}`` (update is **POST**);
``POST·GET /conversations/{id}/items``; ``GET·DELETE /conversations/{id}/items/{item_id}``.
Every success is 200 with a JSON body (the SDK cannot parse a 204).

Update semantics (our documented choice, ``docs/contract.md`` §Metadata): ``{"metadata": {...}}``
shallow-merges, a key whose value is ``null`` is removed, ``{"metadata": null}`` clears all.
"""

from __future__ import annotations

from rest_framework import viewsets
from rest_framework.response import Response

from conversations import selectors, services
from conversations.database.replica import replica_reads
from conversations.domain.metadata import MAX_KEY_LENGTH, MAX_PAIRS, MAX_VALUE_LENGTH
from conversations.formats.base import FormatViewMixin, ResourceNotFound
from conversations.formats.openai import items as item_types
from conversations.formats.openai import serializers as s
from conversations.formats.openai.errors import OpenAIParamError, rate_limit_headers, render_error
from conversations.formats.params import IntegerParamInvalid, integer_param
from conversations.http.auth import AzureApiKeyAuthentication
from conversations.http.idempotency import idempotent
from conversations.models import Conversation, Message

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class OpenAIViewMixin(FormatViewMixin):
    """OpenAI's auth, audit path and error envelope."""

    source = "openai"
    error_renderer = staticmethod(render_error)
    rate_limit_headers = staticmethod(rate_limit_headers)

    def find_item(self, item_id: str) -> Message | None:
        """The item an ``item_reference`` names, in any conversation of this partition."""
        return selectors.partition_item(partition=self.partition, item_id=item_id)


class ConversationViewSet(OpenAIViewMixin, viewsets.ViewSet):
    """``/conversations`` and ``/conversations/{conversation_id}``."""

    def list(self, request):
        """List the partition's conversations (Azure OpenAI v1 "List conversations"; OpenAI
        documents no such route, so on the OpenAI base URL it is ours).

        Query: ``limit`` 1–100 (default 20), ``order`` ``asc``|``desc`` by ``created_at``
        (default ``desc``), ``after``/``before`` conversation ids, ``agent_id``,
        ``agent_name``, and ``metadata[KEY]=VALUE`` (repeatable, ANDed, at most 16). Answers
        ``{"object": "list", "data", "first_id", "last_id", "has_more"}``.
        """
        params = request.query_params
        limit = _int_param(params, "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        order = _order_param(params.get("order", "desc"))
        try:
            with replica_reads():  # a list: the replica serves it once caught up
                rows, has_more = selectors.conversation_cursor_page(
                    partition=self.partition,
                    limit=limit,
                    descending=order == "desc",
                    after=params.get("after") or None,
                    before=params.get("before") or None,
                    agent_id=params.get("agent_id") or None,
                    agent_name=params.get("agent_name") or None,
                    metadata=_metadata_filters(params),
                )
        except Conversation.DoesNotExist as exc:
            name = exc.args[0]
            raise OpenAIParamError(
                f"Invalid '{name}': no conversation with id '{params[name]}'.",
                param=name,
                code="invalid_value",
            ) from None
        data = [s.ConversationOutputSerializer(row).data for row in rows]
        return Response(
            {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": has_more,
            }
        )

    @idempotent
    def create(self, request):
        data = s.ConversationCreateInputSerializer().to_internal_value(request.data)
        messages = (
            s.items_to_inputs(data["items"], minimum=0, resolve=self.find_item)
            if "items" in data
            else []
        )
        conversation = services.conversation_create(
            project=self.partition.project,
            isolation_key=self.partition.isolation_key,
            metadata=data.get("metadata"),
            messages=messages,
            actor=self.actor,
        )
        return self.with_etag(
            Response(s.ConversationOutputSerializer(conversation).data), conversation
        )

    def retrieve(self, request, conversation_id):
        conversation = self.get_conversation()
        return self.not_modified(conversation) or self.with_etag(
            Response(s.ConversationOutputSerializer(conversation).data), conversation
        )

    def update(self, request, conversation_id):
        data = s.ConversationUpdateInputSerializer().to_internal_value(request.data)
        target = self.conversation_target()
        if data["metadata"] is None:
            conversation = services.conversation_metadata_replace(
                metadata={}, actor=self.actor, if_match=self.if_match, **target
            )
        else:
            conversation = services.conversation_metadata_merge(
                patch=data["metadata"], actor=self.actor, if_match=self.if_match, **target
            )
        return self.with_etag(
            Response(s.ConversationOutputSerializer(conversation).data), conversation
        )

    def destroy(self, request, conversation_id):
        conversation = self.get_conversation()
        rendered_id = s.ConversationOutputSerializer(conversation).data["id"]
        services.conversation_delete(conversation=conversation, if_match=self.if_match)
        return Response({"id": rendered_id, "object": "conversation.deleted", "deleted": True})


class ItemViewSet(OpenAIViewMixin, viewsets.ViewSet):
    """``/conversations/{conversation_id}/items[/{item_id}]``. ``include[]`` (list, retrieve,
    create) names the governed fields to return (:data:`.items.INCLUDABLE`)."""

    def get_item(self, conversation, item_id: str) -> Message:
        try:
            return selectors.message_get(conversation=conversation, message_id=item_id)
        except Message.DoesNotExist:
            raise ResourceNotFound("message", item_id) from None

    @idempotent
    def create(self, request, conversation_id):
        include = item_types.include_param(request.query_params)
        data = s.ItemsCreateInputSerializer().to_internal_value(request.data)
        messages = s.items_to_inputs(data["items"], resolve=self.find_item)
        conversation = self.get_conversation()
        rows = services.messages_create(conversation=conversation, messages=messages)
        return Response(s.item_list_payload(rows, has_more=False, include=include))

    def list(self, request, conversation_id):
        params = request.query_params
        limit = _int_param(params, "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        order = _order_param(params.get("order", "desc"))
        include = item_types.include_param(params)
        conversation = self.get_conversation()
        after = None
        if params.get("after"):
            try:
                after = selectors.message_get(conversation=conversation, message_id=params["after"])
            except Message.DoesNotExist:
                raise OpenAIParamError(
                    f"Invalid 'after': no item with id '{params['after']}' in this conversation.",
                    param="after",
                    code="invalid_value",
                ) from None
        rows, has_more = selectors.message_cursor_page(
            conversation=conversation, after=after, limit=limit, descending=order == "desc"
        )
        return Response(s.item_list_payload(rows, has_more=has_more, include=include))

    def retrieve(self, request, conversation_id, item_id):
        include = item_types.include_param(request.query_params)
        item = self.get_item(self.get_conversation(), item_id)
        return Response(item_types.render_item(item, include))

    def destroy(self, request, conversation_id, item_id):
        conversation = self.get_conversation()
        services.message_delete(message=self.get_item(conversation, item_id))
        conversation.refresh_from_db()
        return self.with_etag(
            Response(s.ConversationOutputSerializer(conversation).data), conversation
        )


def _order_param(order: str) -> str:
    if order not in ("asc", "desc"):
        raise OpenAIParamError(
            f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.",
            param="order",
            code="invalid_value",
        )
    return order


def _metadata_filters(params) -> list[tuple[str, str]]:
    """``metadata[KEY]=VALUE`` query parameters as pairs, bounded like metadata itself."""
    pairs = []
    for name, values in params.lists():
        if not (name.startswith("metadata[") and name.endswith("]")):
            continue
        key = name[len("metadata[") : -1]
        if not 1 <= len(key) <= MAX_KEY_LENGTH:
            raise OpenAIParamError(
                f"Invalid '{name}': a metadata key has 1 to {MAX_KEY_LENGTH} characters.",
                param=name,
                code="invalid_value",
            )
        for value in values:
            if len(value) > MAX_VALUE_LENGTH:
                raise OpenAIParamError(
                    f"Invalid '{name}': string too long. Expected a string with maximum length "
                    f"{MAX_VALUE_LENGTH}, but got a string with length {len(value)} instead.",
                    param=name,
                    code="string_above_max_length",
                )
            pairs.append((key, value))
    if len(pairs) > MAX_PAIRS:
        raise OpenAIParamError(
            f"Too many metadata filters: at most {MAX_PAIRS}, got {len(pairs)}.",
            param="metadata",
            code="invalid_value",
        )
    return pairs


def _int_param(params, name: str, default: int, low: int, high: int) -> int:
    """:func:`~conversations.formats.params.integer_param`, refused in OpenAI's words."""
    try:
        return integer_param(params, name, default=default, low=low, high=high)
    except IntegerParamInvalid as exc:
        if exc.problem == exc.NOT_INTEGER:
            message = f"Invalid type for '{name}': expected an integer, but got a string instead."
            code = "invalid_type"
        elif exc.problem == exc.BELOW:
            message = (
                f"Invalid '{name}': integer below minimum value. Expected a value >= {low}, but "
                f"got {exc.value} instead."
            )
            code = "integer_below_min_value"
        else:
            message = (
                f"Invalid '{name}': integer above maximum value. Expected a value <= {high}, but "
                f"got {exc.value} instead."
            )
            code = "integer_above_max_value"
        raise OpenAIParamError(message, param=name, code=code) from None


class AzureViewMixin:
    """Azure OpenAI v1: ``api-key`` header accepted beside Bearer, ``api-version`` ignored,
    ``apim-request-id`` echoed (``docs/contract.md``, Azure)."""

    source = "azure"
    authentication_classes = [AzureApiKeyAuthentication]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["apim-request-id"] = getattr(request, "request_id", "")
        return response


class AzureConversationViewSet(AzureViewMixin, ConversationViewSet):
    """:class:`ConversationViewSet` for ``/azure/openai/v1``."""


class AzureItemViewSet(AzureViewMixin, ItemViewSet):
    """:class:`ItemViewSet` for ``/azure/openai/v1``."""
