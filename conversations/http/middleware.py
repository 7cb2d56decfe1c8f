"""Request-scoped plumbing shared by every route."""

import io
import uuid

from django.conf import settings
from django.contrib.admin.views.main import SEARCH_VAR
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse, HttpResponseBadRequest


class RequestIdMiddleware:
    """Give every request an id (``req_`` + 32 hex) and answer it in ``x-request-id``.

    The OpenAI SDK exposes this header as ``_request_id`` / ``APIStatusError.request_id``
    (the ``openai`` SDK's request IDs); the audit trail stores it beside each change.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = "req_" + uuid.uuid4().hex
        response = self.get_response(request)
        response["x-request-id"] = request.request_id
        return response


class DechunkedBody:
    """WSGI middleware (PEP 3333): hand a de-chunked request body on with its length.

    A body sent with ``Transfer-Encoding: chunked`` and no ``Content-Length`` has, for
    Django, a length of 0: left alone, a create would store an empty conversation and an
    update change nothing. gunicorn de-chunks such a body and says so with
    ``wsgi.input_terminated`` (the input ends at the body's end); this reads at most
    ``CONVSTORE_MAX_BODY_BYTES`` + 1 bytes of it and passes them on as ``wsgi.input`` with
    their ``CONTENT_LENGTH``, so :class:`ChunkedBodyMiddleware` checks one limit for every
    body (one byte over it is enough to refuse). ``convstore.wsgi`` wraps the application
    in it.
    """

    READ_SIZE = 64 * 1024

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):
            limit = settings.CONVSTORE_MAX_BODY_BYTES
            stream, chunks, size = environ["wsgi.input"], [], 0
            while size <= limit:
                chunk = stream.read(min(self.READ_SIZE, limit + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            environ["wsgi.input"] = io.BytesIO(b"".join(chunks))
            environ["CONTENT_LENGTH"] = str(size)
        return self.application(environ, start_response)


class ChunkedBodyMiddleware:
    """The request body limit, checked once for every route: refuse a body over it, or a
    chunked body that cannot be read.

    - A ``Content-Length`` over ``CONVSTORE_MAX_BODY_BYTES`` marks the request
      ``body_refusal = "too_large"`` (the format answers 413). A chunked body that gunicorn
      de-chunked arrives here with its length already (:class:`DechunkedBody`).
    - A chunked body with no length is left by Django's ``runserver`` as the raw socket
      limited to zero bytes (PEP 3333 leaves it open), so it cannot be read: the request is
      marked ``body_refusal = "length_required"`` (the format answers 411).

    API views (:class:`conversations.formats.base.FormatViewMixin`) word the refusal in
    their format's shape; any other view (the admin) gets a plain-text 413 or 411.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        meta = request.META
        length = meta.get("CONTENT_LENGTH")
        if length:
            try:
                if int(length) > settings.CONVSTORE_MAX_BODY_BYTES:
                    request.body_refusal = "too_large"
            except ValueError:
                pass  # Django reads a malformed length as 0
        elif "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
            request.body_refusal = "length_required"
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        refusal = getattr(request, "body_refusal", None)
        if refusal and getattr(view_func, "cls", None) is None:  # not a DRF view
            if refusal == "too_large":
                return HttpResponse("Request body too large.\n", status=413)
            return HttpResponse("Send a Content-Length header.\n", status=411)
        return None


class NulQueryMiddleware:
    """Refuse a NUL character (``%00``) in the query string of any non-API page with 400.

    PostgreSQL text cannot hold NUL, so such a value reaching a query (an admin list
    filter, a lookup) raised a database error and answered 500. The API formats check their
    own parameters and word the error in their shape; every other view (the admin) is
    guarded here, once, for every parameter name and value, except the admin's search term
    (``q``), which Django's own search form already refuses with a message on the page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "cls", None) is not None:  # a DRF view: its format answers
            return None
        if any(
            "\x00" in name or ("\x00" in value and name != SEARCH_VAR)
            for name, value in request.GET.items()
        ):
            return HttpResponseBadRequest(
                "A NUL character (%00) is not allowed in a query parameter.\n",
                content_type="text/plain",
            )
        return None


#: Path prefixes of the wire formats (``convstore/urls.py``). Requests under them skip the
#: middleware only the admin needs (see :class:`AdminOnlyMixin`).
API_PATH_PREFIXES = ("/openai/", "/azure/", "/telnyx/", "/agentphone/")


class AdminOnlyMixin:
    """Skip a middleware for the wire formats' paths; run it unchanged everywhere else.

    Sessions, ``request.user`` and messages serve the admin's browser pages. API requests
    authenticate with a key per request (no cookies) and answer JSON, so running them there
    costs CPU on every request for nothing. Anything outside :data:`API_PATH_PREFIXES` — the
    admin and any page added later — keeps the full stack. The classes below subclass
    Django's own, so Django's admin checks still see them installed. CSRF and
    ``X-Frame-Options`` stay Django's own classes on every path: ``check --deploy`` looks for
    them by name, and on API paths they cost next to nothing (DRF views are CSRF-exempt).
    """

    def __call__(self, request):
        if request.path_info.startswith(API_PATH_PREFIXES):
            return self.get_response(request)
        return super().__call__(request)


class AdminSessionMiddleware(AdminOnlyMixin, SessionMiddleware):
    """:class:`~django.contrib.sessions.middleware.SessionMiddleware`, admin pages only."""


class AdminAuthenticationMiddleware(AdminOnlyMixin, AuthenticationMiddleware):
    """:class:`~django.contrib.auth.middleware.AuthenticationMiddleware`, admin pages only."""


class AdminMessageMiddleware(AdminOnlyMixin, MessageMiddleware):
    """:class:`~django.contrib.messages.middleware.MessageMiddleware`, admin pages only."""
