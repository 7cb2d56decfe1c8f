"""Request-scoped plumbing shared by every route."""

import uuid


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
