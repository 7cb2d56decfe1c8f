"""Plumbing every wire format shares: auth, partition, actor, body limit, error hook.

A format's viewsets subclass :class:`FormatViewMixin` and set ``source`` (the audit path
name) and ``error_renderer`` (a function ``(exc, request) -> Response | None`` that words
each error in the provider's own shape). The domain core never sees a wire shape.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from rest_framework import exceptions, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from conversations.database import guards
from conversations.domain.conditional import EntityTags, etag
from conversations.domain.ids import parse_id
from conversations.http import ratelimit
from conversations.http.auth import ApiKeyAuthentication
from conversations.models import Conversation
from conversations.ops.metrics import RATE_LIMITED
from conversations.ops.observability import request_format
from conversations.selectors import Partition, conversation_get
from conversations.services import Actor

ISOLATION_HEADER = "HTTP_X_MS_USER_ISOLATION_KEY"


class PayloadTooLarge(exceptions.APIException):
    """The request body is over ``CONVSTORE_MAX_BODY_BYTES``; answered 413."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


class LengthRequired(exceptions.APIException):
    """A chunked body the server cannot read (RFC 9110 §15.5.12); answered 411.

    Raised when a request carries ``Transfer-Encoding: chunked`` and no ``Content-Length``
    under a WSGI server that does not de-chunk bodies for the application (Django's
    ``runserver``; see :class:`conversations.http.middleware.ChunkedBodyMiddleware`). gunicorn
    de-chunks, and there such bodies are read under the body limit instead.
    """

    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_detail = (
        "A chunked request body cannot be read by this server: send a Content-Length header."
    )
    default_code = "length_required"


class DatabaseUnavailable(exceptions.APIException):
    """The database timed out or dropped the connection; answered 503 with ``Retry-After``.

    ``kind`` is ``"timeout"`` (the statement ran past ``CONVSTORE_STATEMENT_TIMEOUT_MS`` or
    waited that long for a lock) or ``"unavailable"`` (refused or dropped connection).
    ``retry_after`` is in seconds (``CONVSTORE_DB_RETRY_AFTER``). The official SDKs retry a
    503 and honour ``Retry-After``.
    """

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "database_unavailable"

    def __init__(self, kind: str):
        if kind == "timeout":
            detail = (
                "The request took longer than the server allows "
                f"({settings.CONVSTORE_STATEMENT_TIMEOUT_MS} ms of database time); retry, or "
                "narrow the request."
            )
        else:
            detail = "The database is unavailable; retry shortly."
        super().__init__(detail)
        self.kind = kind
        self.retry_after = settings.CONVSTORE_DB_RETRY_AFTER


class ResourceNotFound(exceptions.NotFound):
    """A conversation or message is unknown, deleted, or in another partition (404).

    ``resource`` is ``"conversation"`` or ``"message"``; ``resource_id`` is the id as the
    client sent it, for the providers whose wording quotes it.
    """

    def __init__(self, resource: str, resource_id: str):
        super().__init__(f"{resource} {resource_id!r} not found")
        self.resource = resource
        self.resource_id = resource_id


class InvalidIsolationKey(exceptions.APIException):
    """The ``x-ms-user-isolation-key`` header is longer than the store keeps (256 characters).

    Each format words it as a bad request in its own shape.
    """

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_isolation_key"

    def __init__(self, limit: int):
        super().__init__(f"x-ms-user-isolation-key may hold at most {limit} characters.")
        self.limit = limit


MAX_ISOLATION_KEY_LENGTH = Conversation._meta.get_field("isolation_key").max_length


_PERIODS = {1: "a second", 60: "a minute", 3600: "an hour", 86400: "a day"}


def auth_failures_explained(exc: ratelimit.RateLimited) -> str:
    """Why a client address gets 429 after failed authentications, and when to retry.

    ``exc`` has the ``"auth_failures"`` scope. The text names the cause (wrong or revoked API
    keys from this address), the limit (``CONVSTORE_AUTH_FAILURE_LIMIT``), that a right key
    is refused too until the window ends (:mod:`conversations.http.ratelimit`), and the wait in
    whole seconds (the ``Retry-After`` value). Each format puts it in its own error shape.
    """
    rate = ratelimit.parse_rate(settings.CONVSTORE_AUTH_FAILURE_LIMIT)
    limit = ""
    if rate is not None:
        period = _PERIODS.get(rate.period, f"{rate.period:g} seconds")
        limit = f" (more than {rate.limit} in {period})"
    return (
        f"Too many failed authentications from your address{limit}: wrong or revoked API "
        "keys. Every request from this address is refused until the limit's window ends, "
        f"a right key included. Retry after {exc.retry_after} seconds."
    )


class JSONContentNegotiation(DefaultContentNegotiation):
    """Answer JSON whatever ``Accept`` says, as every provider does, without parsing the
    header on each request; request bodies are still matched to a parser by content type."""

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type


class FormatViewMixin:
    """Mixin for a format's DRF views (put it before ``GenericViewSet``/``APIView``)."""

    authentication_classes = [ApiKeyAuthentication]
    content_negotiation_class = JSONContentNegotiation
    permission_classes: list = []
    source = "api"

    @staticmethod
    def error_renderer(exc, request) -> Response | None:  # pragma: no cover - overridden
        return None

    @staticmethod
    def rate_limit_headers(usage: ratelimit.Usage) -> dict[str, str]:
        """The provider's own rate-limit headers for a key's :class:`~ratelimit.Usage`."""
        return {}

    def perform_authentication(self, request):
        """Authenticate, then apply the rate limits (:mod:`conversations.http.ratelimit`)."""
        try:
            super().perform_authentication(request)
        except exceptions.AuthenticationFailed:
            ratelimit.authentication_failed(ratelimit.client_ip(request))
            raise
        request.rate_limit_usage = ratelimit.check_request(
            request.auth.pk, ratelimit.client_ip(request)
        )

    def finalize_response(self, request, response, *args, **kwargs):
        usage = getattr(request, "rate_limit_usage", None)
        if usage is not None:
            for name, value in self.rate_limit_headers(usage).items():
                response[name] = value
        return super().finalize_response(request, response, *args, **kwargs)

    def dispatch(self, request, *args, **kwargs):
        # Every statement of the view, its error handling included, under the API's
        # statement timeout (conversations.database.guards).
        with guards.statement_timeout():
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        # The body limit is checked once, by conversations.http.middleware.ChunkedBodyMiddleware;
        # here its refusal is worded in the format's shape (DRF's Request proxies the
        # attributes of the HttpRequest it wraps).
        refusal = getattr(request, "body_refusal", None)
        if refusal == "too_large":
            raise PayloadTooLarge()
        if refusal == "length_required":
            raise LengthRequired()
        guards.apply_statement_timeout()
        super().initial(request, *args, **kwargs)
        if len(request.META.get(ISOLATION_HEADER, "")) > MAX_ISOLATION_KEY_LENGTH:
            raise InvalidIsolationKey(MAX_ISOLATION_KEY_LENGTH)

    @property
    def partition(self) -> Partition:
        """``(project of the request's key, x-ms-user-isolation-key or "")``."""
        return Partition(
            project=self.request.auth.project,
            isolation_key=self.request.META.get(ISOLATION_HEADER, ""),
        )

    @property
    def actor(self) -> Actor:
        """The audit actor: this request's key, through this format."""
        return Actor.for_api_key(
            self.request.auth,
            source=self.source,
            request_id=getattr(self.request, "request_id", ""),
        )

    def get_conversation(self, conversation_id: str | None = None):
        """The partition's conversation named in the URL, or :class:`ResourceNotFound`."""
        conversation_id = conversation_id or self.kwargs["conversation_id"]
        try:
            return conversation_get(partition=self.partition, conversation_id=conversation_id)
        except Conversation.DoesNotExist:
            raise ResourceNotFound("conversation", conversation_id) from None

    def conversation_target(self, conversation_id: str | None = None) -> dict:
        """Keyword arguments naming the URL's conversation for a locking service call.

        ``{"conversation": <uuid>, "scope": <the request's Partition>}``: the service locks the
        row only if it is in the partition, so an update costs no separate lookup. Raises
        :class:`ResourceNotFound` for an id in no accepted form.
        """
        conversation_id = conversation_id or self.kwargs["conversation_id"]
        pk = parse_id(conversation_id)
        if pk is None:
            raise ResourceNotFound("conversation", conversation_id)
        return {"conversation": pk, "scope": self.partition}

    # --- conditional requests (RFC 9110 §13; conversations.domain.conditional) -----------

    @property
    def if_match(self) -> EntityTags | None:
        """The request's ``If-Match``, parsed; ``None`` when absent. Pass it to the service."""
        return EntityTags.parse(self.request.META.get("HTTP_IF_MATCH"))

    def with_etag(self, response: Response, conversation) -> Response:
        """Set ``ETag`` on a response that renders ``conversation``'s current state."""
        response["ETag"] = etag(conversation)
        return response

    def not_modified(self, conversation) -> Response | None:
        """A 304 (no body, with the ``ETag``) when ``If-None-Match`` matches, else ``None``."""
        tags = EntityTags.parse(self.request.META.get("HTTP_IF_NONE_MATCH"))
        if tags is None or not tags.matches_weakly(conversation):
            return None
        return self.with_etag(Response(status=status.HTTP_304_NOT_MODIFIED), conversation)

    def get_exception_handler(self):
        renderer = type(self).error_renderer

        def handler(exc, context):
            failure = guards.database_failure(exc)
            if failure:
                exc = DatabaseUnavailable(failure)
            if isinstance(exc, Conversation.DoesNotExist):
                exc = ResourceNotFound("conversation", self.kwargs.get("conversation_id", ""))
            elif isinstance(exc, ObjectDoesNotExist):
                exc = ResourceNotFound("message", "")
            response = renderer(exc, context["request"])
            if response is not None and getattr(exc, "auth_header", None):
                response["WWW-Authenticate"] = exc.auth_header
            if response is not None and getattr(exc, "retry_after", None):
                response["Retry-After"] = str(exc.retry_after)
            if response is not None and isinstance(exc, ratelimit.RateLimited):
                RATE_LIMITED.labels(format=request_format(context["request"].path_info)).inc()
                if exc.usage is not None:
                    context["request"].rate_limit_usage = exc.usage
            return response

        return handler
