"""Telnyx's error bodies (``docs/contract.md`` §Errors).

Two shapes, as the Telnyx AI stack uses them:

- the Telnyx platform envelope ``{"errors": [{"code", "title", "detail", "source"?}]}`` for
  404 (``10005``), 401 (``10009``), 400 AI switched off (``10015``), 413 (``10015``),
  405 (``10015``), 501 no chat responder and 502 responder failure (``10007``);
- FastAPI's ``{"detail": [{"loc", "msg", "type"}]}`` for every 422 (invalid metadata,
  malformed JSON, wrong types, bad filters), as the conversations API is FastAPI.

The SDK picks its exception class by status alone (400 ``BadRequestError``, 401
``AuthenticationError``, 404 ``NotFoundError``, 422 ``UnprocessableEntityError``…).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from django.core.exceptions import ValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response

from conversations.domain.conditional import PreconditionFailed
from conversations.domain.metadata import MetadataError
from conversations.formats.base import (
    DatabaseUnavailable,
    InvalidIsolationKey,
    LengthRequired,
    PayloadTooLarge,
    ResourceNotFound,
    auth_failures_explained,
)
from conversations.formats.telnyx.responders import HOW_TO_CONFIGURE
from conversations.http.idempotency import (
    IdempotencyKeyInUse,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
)
from conversations.http.parsers import JSONTooDeep, UnstorableJSON
from conversations.http.ratelimit import RateLimited, Usage
from conversations.services import (
    AIDisabled,
    MessageInvalid,
    ResponderFailed,
    ResponderNotConfigured,
)

AUTH_DETAIL = (
    "The required authentication headers were either invalid or not included in the request. "
    "Send Authorization: Bearer <key>; create a key with "
    "`.venv/bin/python manage.py create_api_key --project NAME`."
)
AI_DISABLED_DETAIL = "AI responses are disabled for this conversation (metadata.ai_disabled=true)"

# pydantic v2 error types and messages for each metadata rule.
_METADATA_TYPES = {
    "not_an_object": ("dict_type", "Input should be a valid dictionary"),
    "too_many_pairs": (
        "too_long",
        "Dictionary should have at most {limit} items after validation, not {count}",
    ),
    "key_too_short": ("string_too_short", "String should have at least 1 character"),
    "key_too_long": ("string_too_long", "String should have at most {limit} characters"),
    "value_too_long": ("string_too_long", "String should have at most {limit} characters"),
    "invalid_value_type": ("string_type", "Input should be a valid string"),
    "invalid_ai_disabled": (
        "bool_parsing",
        "Input should be a valid boolean, unable to interpret input",
    ),
    "nul_character": ("value_error", "Value error, the NUL character (\\u0000) is not allowed"),
    "invalid_ai_disabled_until": (
        "datetime_from_date_parsing",
        "Input should be a valid RFC 3339 datetime with a timezone offset",
    ),
    "invalid_ai_disabled_idle": (
        "value_error",
        "Value error, expected seconds or a duration like 15m, from 1 second to 7 days",
    ),
}
# Django/DRF validation codes → pydantic v2 error types.
_CODE_TYPES = {
    "required": "missing",
    "null": "string_type",
    "blank": "string_too_short",
    "max_length": "string_too_long",
    "min_length": "string_too_short",
    "invalid": "value_error",
    "invalid_choice": "literal_error",
    "not_a_list": "list_type",
    "not_a_dict": "dict_type",
    "min_value": "greater_than_equal",
    "max_value": "less_than_equal",
    "date": "datetime_type",
}


class TelnyxValidationError(exceptions.APIException):
    """A 422 carrying FastAPI's ``detail`` list: ``[{"loc": [...], "msg", "type"}, …]``."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY

    def __init__(self, errors: list[dict]):
        super().__init__("Validation error")
        self.errors = errors


def validation_item(loc: Iterable, msg: str, type_: str) -> dict:
    """One FastAPI validation error."""
    return {"loc": list(loc), "msg": msg, "type": type_}


def envelope(http_status: int, code: str, title: str, detail: str, pointer=None) -> Response:
    """The Telnyx platform error envelope with one error."""
    error = {"code": code, "title": title, "detail": detail}
    if pointer:
        error["source"] = {"pointer": pointer}
    return Response({"errors": [error]}, status=http_status)


def metadata_error_item(error: MetadataError, root=("body", "metadata")) -> dict:
    """Word a :class:`MetadataError` as a FastAPI item; ``loc`` ends with the key at fault."""
    type_, template = _METADATA_TYPES.get(error.code, ("value_error", "Value error"))
    loc = [*root, error.key] if error.key is not None else list(root)
    return validation_item(loc, template.format(**error.params), type_)


def serializer_error_items(errors, loc: tuple = ("body",)) -> list[dict]:
    """Flatten DRF ``serializer.errors`` into FastAPI items (``non_field_errors`` → ``loc``)."""
    items = []
    if isinstance(errors, Mapping):
        for name, nested in errors.items():
            sub = loc if name in ("non_field_errors", "__all__") else (*loc, name)
            items.extend(serializer_error_items(nested, sub))
    elif isinstance(errors, list):
        for index, nested in enumerate(errors):
            if isinstance(nested, Mapping | list):
                items.extend(serializer_error_items(nested, (*loc, index)))
            else:
                items.extend(serializer_error_items(nested, loc))
    else:
        code = getattr(errors, "code", "invalid")
        items.append(validation_item(loc, str(errors), _CODE_TYPES.get(code, code)))
    return items


def form_error_items(errors: Mapping[str, list[ValidationError]], root="query") -> list[dict]:
    """Word a form's ``errors.as_data()`` (the list filters) as FastAPI items."""
    items = []
    for name, field_errors in errors.items():
        for error in field_errors:
            for message in error.messages:
                code = error.code or "value_error"
                items.append(validation_item((root, name), message, _CODE_TYPES.get(code, code)))
    return items


def message_error_item(error: MessageInvalid) -> dict:
    """Word a :class:`MessageInvalid` as a FastAPI item on the body field at fault."""
    if error.code == "too_large":
        return validation_item(
            ("body", "content"),
            f"Message should be at most {error.limit} bytes, not {error.length}",
            "too_long",
        )
    return validation_item(
        ("body", error.field),
        f"String should have at most {error.limit} characters",
        "string_too_long",
    )


def rate_limit_headers(usage: Usage) -> dict[str, str]:
    """Telnyx's ``x-ratelimit-limit``, ``-remaining`` and ``-reset`` (whole seconds), sent on
    every key-authenticated answer (developers.telnyx.com, "Rate limiting")."""
    return {
        "x-ratelimit-limit": str(usage.limit),
        "x-ratelimit-remaining": str(usage.remaining),
        "x-ratelimit-reset": str(math.ceil(usage.reset)),
    }


def render_error(exc, request) -> Response | None:
    """Word any exception raised in a Telnyx view; ``None`` leaves it to Django (a 500)."""
    if isinstance(exc, RateLimited):  # Telnyx's documented 429 body, code 10011
        detail = (
            "You have exceeded the maximum number of allowed requests."
            if exc.scope == "api_key"
            else auth_failures_explained(exc)
        )
        return envelope(429, "10011", "Too many requests", detail)
    if isinstance(exc, TelnyxValidationError):
        return Response({"detail": exc.errors}, status=422)
    if isinstance(exc, MessageInvalid):
        return Response({"detail": [message_error_item(exc)]}, status=422)
    if isinstance(exc, DatabaseUnavailable):
        return envelope(503, "10007", "Service Unavailable", str(exc.detail))
    if isinstance(exc, LengthRequired):
        return envelope(411, "10015", "Length Required", str(exc.detail))
    if isinstance(exc, JSONTooDeep):
        item = validation_item(("body", 0), f"JSON decode error: {exc.message}", "json_invalid")
        return Response({"detail": [item]}, status=422)
    if isinstance(exc, MetadataError):
        return Response({"detail": [metadata_error_item(exc)]}, status=422)
    if isinstance(exc, PreconditionFailed):
        return envelope(412, "10015", "Precondition Failed", str(exc))
    if isinstance(exc, IdempotencyKeyInvalid):
        return envelope(400, "10015", "Bad Request", str(exc))
    if isinstance(exc, IdempotencyKeyInUse):
        return envelope(409, "10015", "Conflict", str(exc))
    if isinstance(exc, IdempotencyKeyReused):
        item = validation_item(("header", "Idempotency-Key"), str(exc), "value_error")
        return Response({"detail": [item]}, status=422)
    if isinstance(exc, ResourceNotFound):
        return envelope(404, "10005", "Resource not found", "Conversation Not Found")
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return envelope(401, "10009", "Authentication failed", AUTH_DETAIL)
    if isinstance(exc, AIDisabled):
        return envelope(400, "10015", "Bad Request", AI_DISABLED_DETAIL, "/conversation_id")
    if isinstance(exc, ResponderNotConfigured):
        return envelope(501, "10007", "Not implemented", f"{exc} {HOW_TO_CONFIGURE}")
    if isinstance(exc, ResponderFailed):
        return envelope(502, "10007", "Unexpected error", str(exc))
    if isinstance(exc, UnstorableJSON):
        loc = ("body", *exc.path[:1])
        return Response({"detail": [validation_item(loc, exc.message, "value_error")]}, status=422)
    if isinstance(exc, exceptions.ParseError):
        return Response(
            {"detail": [validation_item(("body", 0), "JSON decode error", "json_invalid")]},
            status=422,
        )
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return Response(
            {
                "detail": [
                    validation_item(
                        ("body",), "Send the body as application/json", "model_attributes_type"
                    )
                ]
            },
            status=422,
        )
    if isinstance(exc, InvalidIsolationKey):
        item = validation_item(
            ("header", "x-ms-user-isolation-key"),
            f"String should have at most {exc.limit} characters",
            "string_too_long",
        )
        return Response({"detail": [item]}, status=422)
    if isinstance(exc, PayloadTooLarge):
        return envelope(413, "10015", "Bad Request", "Request body too large.")
    if isinstance(exc, exceptions.MethodNotAllowed):
        return envelope(
            405, "10015", "Bad Request", f"Method {request.method} not allowed for this URL."
        )
    if isinstance(exc, exceptions.APIException):
        return envelope(exc.status_code, "10015", "Bad Request", str(exc.detail))
    return None


def url_not_found() -> Response:
    """The answer for a path the Telnyx format does not serve."""
    return envelope(
        404, "10005", "Resource not found", "The requested resource or URL could not be found."
    )


def wrong_base_url(request, base_path: str) -> Response:
    """Telnyx's 404 envelope for a path under ``/telnyx`` outside the base URL (e.g. without
    ``/v2``), naming the base URL the SDK needs."""
    base_url = request.build_absolute_uri(base_path)
    return envelope(
        404,
        "10005",
        "Resource not found",
        "The requested resource or URL could not be found: the base URL of this API on this "
        f'server is {base_url} (Telnyx(base_url="{base_url}", api_key=KEY)).',
    )
