"""AgentPhone conversation viewsets (``docs/contract.md`` §Metadata).

Routes (relative to ``/agentphone``; the SDK appends ``/v1``):
``GET /v1/conversations`` (``limit`` 1–100, default 20; ``offset`` ≥ 0; newest activity first;
``{data, hasMore, total}``; ``total`` exact up to 1,000, then estimated, see
:func:`~conversations.selectors.conversation_count`), ``GET /v1/conversations/{id}``
(``message_limit`` 0–100, default 50), ``PATCH /v1/conversations/{id}`` and
``GET /v1/conversations/{id}/messages`` (``limit`` 1–200, default 50; ``before``/``after``
ISO 8601, exclusive; ``{data, hasMore}``).

PATCH replaces the metadata (documented: "Replaces the stored object"); ``"metadata": null``
clears it; a body without ``metadata`` leaves it untouched, which is what the Python SDK sends
for ``update(id)`` / ``update(id, metadata=None)``.
"""

from __future__ import annotations

from django.db import transaction
from rest_framework import viewsets
from rest_framework.response import Response

from conversations import selectors, services
from conversations.database.replica import replica_reads
from conversations.domain.limits import json_bytes, rendered_within_budget, response_budget
from conversations.formats.agentphone import serializers as s
from conversations.formats.agentphone.errors import render_error
from conversations.formats.base import FormatViewMixin

CONVERSATIONS_DEFAULT, CONVERSATIONS_MAX = 20, 100
DETAIL_MESSAGES_DEFAULT, DETAIL_MESSAGES_MAX = 50, 100
MESSAGES_DEFAULT, MESSAGES_MAX = 50, 200


class AgentPhoneViewMixin(FormatViewMixin):
    """AgentPhone's auth, audit path (``agentphone``) and ``{"detail": …}`` errors."""

    source = "agentphone"
    error_renderer = staticmethod(render_error)

    def detail_payload(self, conversation, message_limit: int = DETAIL_MESSAGES_DEFAULT) -> dict:
        """A ``ConversationDetail`` with the ``message_limit`` most recent messages, newest
        first; fewer when they would pass the response budget (the client pages on with
        ``GET …/messages?before=<the last receivedAt>``; ``messageCount`` tells the total)."""
        messages = []
        if conversation.message_count and message_limit:  # no query for an empty thread
            summary = s.ConversationOutputSerializer(conversation).data
            messages, _ = selectors.message_time_page(
                conversation=conversation,
                limit=message_limit,
                budget=response_budget() - json_bytes(summary),
                item_types=s.SHOWN_ITEM_TYPES,
            )
        return s.ConversationOutputSerializer(conversation, context={"messages": messages}).data


class ConversationViewSet(AgentPhoneViewMixin, viewsets.ViewSet):
    """``/v1/conversations`` and ``/v1/conversations/{conversation_id}``."""

    def list(self, request):
        params = request.query_params
        limit = s.int_param(
            params, "limit", default=CONVERSATIONS_DEFAULT, low=1, high=CONVERSATIONS_MAX
        )
        offset = s.int_param(params, "offset", default=0, low=0, high=2**31 - 1)
        with replica_reads():  # a list: the replica serves it once caught up
            rows, has_more, total = selectors.conversation_activity_page(
                partition=self.partition, limit=limit, offset=offset
            )
        # The response budget may stop the page early: hasMore then says so, and the client
        # goes on from offset + len(data), as with any page.
        data = list(
            rendered_within_budget(rows, lambda row: s.ConversationOutputSerializer(row).data)
        )
        more = has_more or len(data) < len(rows)
        return Response({"data": data, "hasMore": more, "total": total})

    def retrieve(self, request, conversation_id):
        message_limit = s.int_param(
            request.query_params,
            "message_limit",
            default=DETAIL_MESSAGES_DEFAULT,
            low=0,
            high=DETAIL_MESSAGES_MAX,
        )
        conversation = self.get_conversation()
        return self.not_modified(conversation) or self.with_etag(
            Response(self.detail_payload(conversation, message_limit)), conversation
        )

    def partial_update(self, request, conversation_id):
        data = s.ConversationUpdateInputSerializer().to_internal_value(request.data)
        if set(data) == {"metadata"}:  # the common case: one service call, no lookup first
            conversation = services.conversation_metadata_replace(
                metadata=data["metadata"],
                actor=self.actor,
                if_match=self.if_match,
                **self.conversation_target(),
            )
            return self.with_etag(Response(self.detail_payload(conversation)), conversation)
        conversation = self.get_conversation()
        with transaction.atomic():
            if self.if_match is not None:  # Locks the row for the writes below.
                conversation = services.conversation_lock(
                    conversation=conversation, if_match=self.if_match
                )
            if "metadata" in data:
                conversation = services.conversation_metadata_replace(
                    conversation=conversation, metadata=data["metadata"], actor=self.actor
                )
            if "group_name" in data and data["group_name"] != conversation.group_name:
                conversation = services.conversation_update_fields(
                    conversation=conversation, group_name=data["group_name"]
                )
        return self.with_etag(Response(self.detail_payload(conversation)), conversation)


class MessageViewSet(AgentPhoneViewMixin, viewsets.ViewSet):
    """``/v1/conversations/{conversation_id}/messages``."""

    def list(self, request, conversation_id):
        params = request.query_params
        limit = s.int_param(params, "limit", default=MESSAGES_DEFAULT, low=1, high=MESSAGES_MAX)
        before = s.datetime_param(params, "before")
        after = s.datetime_param(params, "after")
        conversation = self.get_conversation()
        rows, has_more = selectors.message_time_page(
            conversation=conversation,
            limit=limit,
            before=before,
            after=after,
            item_types=s.SHOWN_ITEM_TYPES,
        )
        context = {"conversation": conversation}
        return Response(
            {
                "data": [s.MessageOutputSerializer(row, context=context).data for row in rows],
                "hasMore": has_more,
            }
        )
