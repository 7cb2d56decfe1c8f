"""Telnyx AI conversations viewsets (``docs/contract.md`` §The AI switch).

Routes (relative to the SDK base URL ``http://HOST/telnyx/v2``):
``GET·POST /ai/conversations``; ``GET·PUT·DELETE /ai/conversations/{id}``;
``POST /ai/conversations/{id}/message``; ``GET /ai/conversations/{id}/messages``;
``POST /ai/assistants/{assistant_id}/chat``.

Wrapping follows the SDK: create answers the bare conversation, retrieve and update wrap it
in ``{"data": …}``, list answers ``{"data": [...]}`` without ``meta``; delete and add-message
answer 200 with an empty body (the SDK ignores it).

Update semantics (undocumented by Telnyx; ours, ``docs/contract.md`` §Metadata): ``PUT`` merges the
sent keys, a ``null`` value removes a key, and ``{}``, ``null`` or no ``metadata`` change
nothing. Reserved keys (``telnyx_*``, ``assistant_id``…) are ordinary metadata here.
"""

from __future__ import annotations

import math

from rest_framework import viewsets
from rest_framework.response import Response

from conversations import selectors, services
from conversations.database import guards
from conversations.database.replica import replica_reads
from conversations.domain.limits import rendered_within_budget
from conversations.formats.base import FormatViewMixin
from conversations.formats.params import IntegerParamInvalid, integer_param, pydantic_words
from conversations.formats.telnyx import serializers as s
from conversations.formats.telnyx.errors import (
    TelnyxValidationError,
    form_error_items,
    rate_limit_headers,
    render_error,
    validation_item,
)
from conversations.formats.telnyx.filters import ConversationFilterSet
from conversations.formats.telnyx.responders import get_responder
from conversations.http.idempotency import idempotent

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class TelnyxViewMixin(FormatViewMixin):
    """Telnyx's auth, audit path and error shapes."""

    source = "telnyx"
    error_renderer = staticmethod(render_error)
    rate_limit_headers = staticmethod(rate_limit_headers)


class ConversationViewSet(TelnyxViewMixin, viewsets.ViewSet):
    """``/ai/conversations``, ``/ai/conversations/{conversation_id}[/message|/messages]``."""

    def list(self, request):
        filterset = ConversationFilterSet(
            data=request.query_params, partition=self.partition
        )
        if not filterset.is_valid():
            raise TelnyxValidationError(form_error_items(filterset.form.errors.as_data()))
        # A search: the replica serves it once caught up; the page is streamed (a server-side
        # cursor) inside a transaction on the connection it reads from.
        with replica_reads() as alias, guards.streaming_under_timeout(alias):
            data = list(
                rendered_within_budget(
                    filterset.page(),
                    lambda row: s.ConversationOutputSerializer(row).data,
                )
            )
        # PostgREST's range of the rows answered; a list the response budget stopped early
        # ends before offset + limit - 1, and the client goes on from offset=<end + 1>.
        offset = filterset.form.cleaned_data.get("offset") or 0
        end = f"{offset}-{offset + len(data) - 1}" if data else "*"
        return Response({"data": data}, headers={"Content-Range": f"{end}/*"})

    @idempotent
    def create(self, request):
        data = s.validated(s.ConversationCreateInputSerializer, request.data)
        conversation = services.conversation_create(
            project=self.partition.project,
            isolation_key=self.partition.isolation_key,
            metadata=data.get("metadata"),
            name=data.get("name") or "",
            actor=self.actor,
        )
        return self.with_etag(
            Response(s.ConversationOutputSerializer(conversation).data), conversation
        )

    def retrieve(self, request, conversation_id):
        conversation = self.get_conversation()
        return self.not_modified(conversation) or self.with_etag(
            Response({"data": s.ConversationOutputSerializer(conversation).data}), conversation
        )

    def update(self, request, conversation_id):
        data = s.validated(s.ConversationUpdateInputSerializer, request.data)
        metadata = data.get("metadata")
        if_match = self.if_match
        if (metadata is not None and metadata != {}) or if_match is not None:
            # A non-object ("", [], 7) reaches the core, which words the type error; an empty
            # patch with If-Match still checks the precondition, writing nothing. The service
            # finds the row in the partition itself (no separate lookup).
            conversation = services.conversation_metadata_merge(
                patch={} if metadata is None else metadata,
                actor=self.actor,
                if_match=if_match,
                **self.conversation_target(),
            )
        else:
            conversation = self.get_conversation()
        return self.with_etag(
            Response({"data": s.ConversationOutputSerializer(conversation).data}), conversation
        )

    def destroy(self, request, conversation_id):
        services.conversation_delete(conversation=self.get_conversation(), if_match=self.if_match)
        return Response(status=200)

    @idempotent
    def add_message(self, request, conversation_id):
        """Store one message whatever the AI switch says (a person taking over, §A.9)."""
        message = s.message_input(s.validated(s.MessageCreateInputSerializer, request.data))
        conversation = self.get_conversation()
        services.messages_create(conversation=conversation, messages=[message])
        return Response(status=200)

    def messages(self, request, conversation_id):
        """One page of messages, oldest first, with ``meta`` the SDK's auto-paging needs."""
        params = request.query_params
        number = _page_param(params, "page[number]", 1, 1, None)
        size = _page_param(params, "page[size]", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        conversation = self.get_conversation()
        rows, total, size = selectors.message_number_page(
            conversation=conversation,
            page_number=number,
            page_size=size,
            item_types=s.SHOWN_ITEM_TYPES,
        )
        return Response(
            {
                "data": [s.MessageOutputSerializer(row).data for row in rows],
                "meta": {
                    "page_number": number,
                    "page_size": size,
                    "total_pages": math.ceil(total / size),
                    "total_results": total,
                },
            }
        )


class AssistantViewSet(TelnyxViewMixin, viewsets.ViewSet):
    """``POST /ai/assistants/{assistant_id}/chat``.

    The assistant id is accepted and not interpreted: convstore has no assistants, the
    configured responder (``CONVSTORE_CHAT_RESPONDER``) writes every reply. With the
    conversation's AI switch off this answers 400 (Telnyx envelope, code ``10015``) and
    stores nothing; otherwise it stores the user message and the reply and answers
    ``{"content": reply}``. No responder configured: 501.
    """

    @idempotent
    def chat(self, request, assistant_id):
        data = s.validated(s.ChatInputSerializer, request.data)
        conversation = self.get_conversation(data["conversation_id"])
        _, reply = services.conversation_ai_reply(
            conversation=conversation,
            content=data["content"],
            name=data.get("name") or "",
            responder=get_responder(),
        )
        return Response({"content": reply.content})


def _page_param(params, name: str, default: int, low: int, high: int | None) -> int:
    """:func:`~conversations.formats.params.integer_param`, refused as Telnyx's FastAPI 422."""
    try:
        return integer_param(params, name, default=default, low=low, high=high)
    except IntegerParamInvalid as exc:
        msg, kind = pydantic_words(exc)
        raise TelnyxValidationError([validation_item(("query", name), msg, kind)]) from None
