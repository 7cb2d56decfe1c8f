"""Request-scoped plumbing shared by every route."""

import uuid

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.csrf import CsrfViewMiddleware


class RequestIdMiddleware:
    """Give every request an id (``req_`` + 32 hex) and answer it in ``x-request-id``.

    The OpenAI SDK exposes this header as ``_request_id`` / ``APIStatusError.request_id``
    (``providers/openai-azure.md`` §4.6); the audit trail stores it beside each change.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = "req_" + uuid.uuid4().hex
        response = self.get_response(request)
        response["x-request-id"] = request.request_id
        return response


#: Path prefixes of the wire formats (``convstore/urls.py``). Requests under them skip the
#: middleware only the admin needs (see :class:`AdminOnlyMixin`).
API_PATH_PREFIXES = ("/openai/", "/azure/", "/telnyx/", "/agentphone/")


class AdminOnlyMixin:
    """Skip a middleware for the wire formats' paths; run it unchanged everywhere else.

    Sessions, CSRF, ``request.user``, messages and ``X-Frame-Options`` serve the admin's
    browser pages. API requests authenticate with a key per request (no cookies, so no CSRF
    exposure; DRF views are CSRF-exempt anyway) and answer JSON, so running them there costs
    CPU on every request for nothing. Anything outside :data:`API_PATH_PREFIXES` — the admin
    and any page added later — keeps the full stack. The classes below subclass Django's own,
    so Django's admin checks still see them installed.
    """

    def __call__(self, request):
        if request.path_info.startswith(API_PATH_PREFIXES):
            return self.get_response(request)
        return super().__call__(request)


class AdminSessionMiddleware(AdminOnlyMixin, SessionMiddleware):
    """:class:`~django.contrib.sessions.middleware.SessionMiddleware`, admin pages only."""


class AdminCsrfViewMiddleware(AdminOnlyMixin, CsrfViewMiddleware):
    """:class:`~django.middleware.csrf.CsrfViewMiddleware`, admin pages only."""

    def process_view(self, request, callback, callback_args, callback_kwargs):
        if request.path_info.startswith(API_PATH_PREFIXES):
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)


class AdminAuthenticationMiddleware(AdminOnlyMixin, AuthenticationMiddleware):
    """:class:`~django.contrib.auth.middleware.AuthenticationMiddleware`, admin pages only."""


class AdminMessageMiddleware(AdminOnlyMixin, MessageMiddleware):
    """:class:`~django.contrib.messages.middleware.MessageMiddleware`, admin pages only."""


class AdminXFrameOptionsMiddleware(AdminOnlyMixin, XFrameOptionsMiddleware):
    """:class:`~django.middleware.clickjacking.XFrameOptionsMiddleware`, admin pages only."""
