"""AgentPhone's FastAPI-style errors (``docs/contract.md`` §Errors).

Every error is ``{"detail": ...}``: a string for 401/404/405/413, and FastAPI's validation
list ``[{"loc": [...], "msg": str, "type": str}]`` with status 422 for a bad body, query
parameter or metadata. The ``agentphone`` SDK reads ``detail`` first and maps 401 to
``AuthenticationError``, 404 to ``NotFoundError`` and anything else to ``AgentPhoneError``.
The ``msg``/``type`` wording follows pydantic v2, which FastAPI uses (our choice: AgentPhone
documents only the shape).
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions, status
from rest_framework.response import Response

from conversations.domain.conditional import PreconditionFailed
from conversations.domain.metadata import MetadataError
from conversations.formats.base import PayloadTooLarge, ResourceNotFound, auth_failures_explained
from conversations.http.parsers import JSONTooDeep
from conversations.http.ratelimit import RateLimited

NOT_FOUND = "Conversation not found"


class ValidationFailed(exceptions.APIException):
    """A 422 with FastAPI's ``detail`` list; ``errors`` holds ``{"loc", "msg", "type"}`` items."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY

    def __init__(self, loc: list, msg: str, type_: str):
        super().__init__(msg)
        self.errors = [{"loc": loc, "msg": msg, "type": type_}]


def metadata_error(error: MetadataError) -> Response:
    """Word a :class:`MetadataError` as one FastAPI validation item under ``body.metadata``."""
    p = error.params
    loc = ["body", "metadata"]
    key = p.get("key")
    if key is not None:
        loc.append(key)
    code = error.code
    if code == "not_an_object":
        msg, type_ = "Input should be a valid dictionary", "dict_type"
    elif code == "too_many_pairs":
        msg = (
            f"Dictionary should have at most {p['limit']} items after validation, not {p['count']}"
        )
        type_ = "too_long"
    elif code == "key_too_short":
        msg, type_ = "String should have at least 1 character", "string_too_short"
    elif code in ("key_too_long", "value_too_long"):
        noun = "Key" if code == "key_too_long" else "String"
        msg, type_ = f"{noun} should have at most {p['limit']} characters", "string_too_long"
    elif code == "invalid_value_type":
        msg, type_ = "Input should be a valid string", "string_type"
    elif code == "invalid_ai_disabled":
        msg, type_ = "Input should be a valid boolean", "bool_parsing"
    elif code in ("invalid_ai_disabled_until", "invalid_ai_disabled_idle"):
        msg, type_ = f"Value error, {error.message}", "value_error"
    else:  # nul_character
        msg, type_ = "Value error, the NUL character (\\u0000) is not allowed", "value_error"
    return Response({"detail": [{"loc": loc, "msg": msg, "type": type_}]}, status=422)


def render_error(exc, request) -> Response | None:
    """Word any exception raised in an AgentPhone view; ``None`` leaves it to Django (500)."""
    if isinstance(exc, RateLimited):  # docs.agentphone.to "Error handling": 429 + Retry-After
        if exc.scope == "api_key":
            detail = f"Rate limit exceeded; retry after {exc.retry_after} seconds"
        else:
            detail = auth_failures_explained(exc)
        return Response({"detail": detail}, status=429)
    if isinstance(exc, MetadataError):
        return metadata_error(exc)
    if isinstance(exc, ValidationFailed):
        return Response({"detail": exc.errors}, status=422)
    if isinstance(exc, ResourceNotFound):
        return Response({"detail": NOT_FOUND}, status=404)
    if isinstance(exc, PreconditionFailed):
        return Response({"detail": str(exc)}, status=412)
    if isinstance(exc, exceptions.NotAuthenticated):
        return Response({"detail": "Not authenticated"}, status=401)
    if isinstance(exc, exceptions.AuthenticationFailed):
        return Response({"detail": "Invalid API key"}, status=401)
    if isinstance(exc, JSONTooDeep):
        item = {
            "loc": ["body", 0],
            "msg": f"JSON decode error: {exc.message}",
            "type": "json_invalid",
        }
        return Response({"detail": [item]}, status=422)
    if isinstance(exc, exceptions.ParseError):
        item = {"loc": ["body", 0], "msg": "JSON decode error", "type": "json_invalid"}
        return Response({"detail": [item]}, status=422)
    if isinstance(exc, PayloadTooLarge | RequestDataTooBig):
        return Response({"detail": "Request body too large"}, status=413)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return Response({"detail": "Method Not Allowed"}, status=405)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return Response({"detail": "Unsupported Media Type: send application/json"}, status=415)
    if isinstance(exc, exceptions.APIException):
        return Response({"detail": str(exc.detail)}, status=exc.status_code)
    return None


def wrong_base_url(request) -> Response:
    """FastAPI's 404 for a path under ``/agentphone`` outside ``/agentphone/v1`` (a base URL
    that already ends in ``/v1``, to which the SDK adds another), naming the base URL."""
    base_url = request.build_absolute_uri("/agentphone")
    return Response(
        {
            "detail": f"Not Found: the base URL of this API on this server is {base_url} "
            f'(AgentPhone(base_url="{base_url}", api_key=KEY); the SDK adds /v1).'
        },
        status=404,
    )
