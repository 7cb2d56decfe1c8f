"""OpenAI's error envelope and wording (``docs/contract.md`` §Errors).

Every error is ``{"error": {"message", "type", "param", "code"}}``. The SDK maps the status
to its exception class (400 ``BadRequestError``, 401 ``AuthenticationError``, 404
``NotFoundError``, …) and exposes ``code`` and ``param``.
"""

from __future__ import annotations

from rest_framework import exceptions, status
from rest_framework.response import Response

from conversations.domain.conditional import PreconditionFailed
from conversations.domain.metadata import MetadataError, json_type_name
from conversations.formats.base import (
    DatabaseUnavailable,
    InvalidIsolationKey,
    LengthRequired,
    PayloadTooLarge,
    ResourceNotFound,
    auth_failures_explained,
)
from conversations.http.idempotency import (
    IdempotencyKeyInUse,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
)
from conversations.http.parsers import JSONTooDeep, UnstorableJSON
from conversations.http.ratelimit import RateLimited, Usage
from conversations.services import DuplicateItemId, MessageInvalid

#: MessageInput fields → the OpenAI item property they come from.
_ITEM_PARAMS = {"item_type": "type", "tool_call_id": "call_id", "item_id": "id"}

NO_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with "
    "blank username) if you're accessing the API from your browser and are prompted for a "
    "username and password. You can create an API key with "
    "`.venv/bin/python manage.py create_api_key --project NAME`."
)

_ARTICLE_TYPES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "array": "an array",
    "object": "an object",
    "null": "null",
}


class OpenAIParamError(exceptions.APIException):
    """A 400 with OpenAI's ``code`` and ``param`` (raised by the OpenAI serializers)."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, param: str | None, code: str | None):
        super().__init__(message)
        self.message, self.param, self.error_code = message, param, code


def error_response(
    http_status: int, message: str, *, param=None, code=None, type_: str = "invalid_request_error"
) -> Response:
    """Build an OpenAI error response."""
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return Response(body, status=http_status)


def a_type(json_type: str) -> str:
    """``"integer"`` → ``"an integer"``, as OpenAI words its type errors."""
    return _ARTICLE_TYPES.get(json_type, f"a {json_type}")


def invalid_type(param: str, expected: str, value) -> OpenAIParamError:
    """OpenAI's 400 for a value of the wrong JSON type: ``Invalid type for 'items[0].id':
    expected a string, but got an integer instead.`` (code ``invalid_type``)."""
    return OpenAIParamError(
        f"Invalid type for '{param}': expected {expected}, but got "
        f"{a_type(json_type_name(value))} instead.",
        param=param,
        code="invalid_type",
    )


def mask_key(raw_key: str) -> str:
    """Mask a key as OpenAI does in its 401 message: first 6 and last 4 characters kept."""
    if len(raw_key) <= 10:
        return "*" * len(raw_key)
    return raw_key[:6] + "*" * (len(raw_key) - 10) + raw_key[-4:]


def metadata_error(error: MetadataError, param_root: str = "metadata") -> Response:
    """Word a :class:`MetadataError` with OpenAI's codes, params and messages (§7.3)."""
    p = error.params
    key = p.get("key")
    key_param = f"{param_root}.{key}" if key is not None else param_root
    code = error.code
    if code == "too_many_pairs":
        return error_response(
            400,
            f"Invalid '{param_root}': too many properties. Expected an object with at most "
            f"{p['limit']} properties, but got an object with {p['count']} properties instead.",
            param=param_root,
            code="object_above_max_properties",
        )
    if code == "key_too_long":
        return error_response(
            400,
            f"Invalid property name in '{param_root}': '{key}' is too long. Expected a string "
            f"with maximum length {p['limit']}, but got a string with length {p['length']} "
            "instead.",
            param=key_param,
            code="property_name_above_max_length",
        )
    if code == "value_too_long":
        return error_response(
            400,
            f"Invalid '{key_param}': string too long. Expected a string with maximum length "
            f"{p['limit']}, but got a string with length {p['length']} instead.",
            param=key_param,
            code="string_above_max_length",
        )
    if code == "invalid_value_type":
        return error_response(
            400,
            f"Invalid type for '{key_param}': expected a string, but got {a_type(p['got'])} "
            "instead.",
            param=key_param,
            code="invalid_type",
        )
    if code == "not_an_object":
        return error_response(
            400,
            f"Invalid type for '{param_root}': expected a metadata object, but got "
            f"{a_type(p['got'])} instead.",
            param=param_root,
            code="invalid_type",
        )
    if code == "key_too_short":
        return error_response(
            400,
            f"Invalid property name in '{param_root}': '' is too short. Expected a string with "
            "minimum length 1, but got a string with length 0 instead.",
            param=param_root,
            code="invalid_value",
        )
    if code == "invalid_ai_disabled":
        return error_response(
            400,
            f"Invalid value for '{key_param}': {p['value']!r}. Supported values are: 'true' "
            "and 'false'.",
            param=key_param,
            code="invalid_value",
        )
    if code in ("invalid_ai_disabled_until", "invalid_ai_disabled_idle"):
        return error_response(400, error.message, param=key_param, code="invalid_value")
    what = "a lone surrogate" if code == "invalid_unicode" else "the NUL character (\\u0000)"
    return error_response(
        400,
        f"Invalid '{key_param}': {what} is not allowed.",
        param=key_param,
        code="invalid_value",
    )


def message_error(error: MessageInvalid) -> Response:
    """Word a :class:`MessageInvalid` as OpenAI's 400 on ``items[i]`` or ``items[i].<field>``."""
    item = f"items[{error.index}]"
    if error.code == "too_large":
        return error_response(
            400,
            f"Invalid '{item}': item too large. Expected an item of at most {error.limit} bytes, "
            f"but got {error.length} bytes instead.",
            param=item,
            code="invalid_value",
        )
    param = f"{item}.{_ITEM_PARAMS.get(error.field, error.field)}"
    return error_response(
        400,
        f"Invalid '{param}': string too long. Expected a string with maximum length "
        f"{error.limit}, but got a string with length {error.length} instead.",
        param=param,
        code="string_above_max_length",
    )


def duration(seconds: float) -> str:
    """OpenAI's ``x-ratelimit-reset-*`` duration: ``"250ms"``, ``"1s"``, ``"1.5s"``, ``"6m0s"``."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


def rate_limit_headers(usage: Usage) -> dict[str, str]:
    """OpenAI's request-rate headers (``x-ratelimit-{limit,remaining,reset}-requests``),
    sent on every answer to a key-authenticated request (the ``openai`` SDK reads them)."""
    return {
        "x-ratelimit-limit-requests": str(usage.limit),
        "x-ratelimit-remaining-requests": str(usage.remaining),
        "x-ratelimit-reset-requests": duration(usage.reset),
    }


def rate_limited(exc: RateLimited) -> Response:
    """OpenAI's 429: ``type`` ``"requests"``, ``code`` ``"rate_limit_exceeded"``."""
    if exc.scope == "api_key":
        message = (
            f"Rate limit reached for requests on this API key: Limit {exc.usage.limit}. "
            f"Please try again in {exc.retry_after}s."
        )
    else:
        message = auth_failures_explained(exc)
    return error_response(429, message, type_="requests", code="rate_limit_exceeded")


def render_error(exc, request) -> Response | None:
    """Word any exception raised in an OpenAI-format view; ``None`` leaves it to Django (500)."""
    if isinstance(exc, RateLimited):
        return rate_limited(exc)
    if isinstance(exc, MetadataError):
        return metadata_error(exc)
    if isinstance(exc, MessageInvalid):
        return message_error(exc)
    if isinstance(exc, DuplicateItemId):
        # OpenAI's wording for a repeated item id; its param is the item's id, not "input".
        return error_response(
            400,
            f"Duplicate item found with id {exc.item_id}. Remove duplicate items from your "
            "input and try again.",
            param=f"items[{exc.index}].id",
        )
    if isinstance(exc, DatabaseUnavailable):
        code = "database_timeout" if exc.kind == "timeout" else "service_unavailable"
        return error_response(503, str(exc.detail), code=code, type_="server_error")
    if isinstance(exc, LengthRequired):
        return error_response(411, str(exc.detail), code="length_required")
    if isinstance(exc, JSONTooDeep):
        return error_response(400, exc.message, code="invalid_value")
    if isinstance(exc, OpenAIParamError):
        return error_response(400, exc.message, param=exc.param, code=exc.error_code)
    if isinstance(exc, PreconditionFailed):
        return error_response(412, str(exc), param="If-Match", code="precondition_failed")
    if isinstance(exc, IdempotencyKeyInvalid):
        return error_response(400, str(exc), param="Idempotency-Key", code="invalid_value")
    if isinstance(exc, IdempotencyKeyInUse):
        return error_response(409, str(exc), param="Idempotency-Key", code="idempotency_key_in_use")
    if isinstance(exc, IdempotencyKeyReused):
        return error_response(422, str(exc), param="Idempotency-Key", code="idempotency_key_reused")
    if isinstance(exc, ResourceNotFound):
        noun = "Conversation" if exc.resource == "conversation" else "Item"
        return error_response(404, f"{noun} with id '{exc.resource_id}' not found.")
    if isinstance(exc, exceptions.NotAuthenticated):
        return error_response(401, NO_KEY_MESSAGE)
    if isinstance(exc, exceptions.AuthenticationFailed):
        return error_response(
            401,
            f"Incorrect API key provided: {mask_key(getattr(exc, 'raw_key', ''))}. You can "
            "create an API key with `.venv/bin/python manage.py create_api_key --project NAME`.",
            code="invalid_api_key",
        )
    if isinstance(exc, UnstorableJSON):
        param = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in exc.path
        ).lstrip(".")
        return error_response(400, exc.message, param=param or None, code="invalid_value")
    if isinstance(exc, exceptions.ParseError):
        return error_response(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The API expects a JSON payload, but what "
            "was sent was not valid JSON.)",
        )
    if isinstance(exc, InvalidIsolationKey):
        return error_response(
            400, str(exc.detail), param="x-ms-user-isolation-key", code="invalid_value"
        )
    if isinstance(exc, PayloadTooLarge):
        return error_response(413, "Request body too large.", code="payload_too_large")
    if isinstance(exc, exceptions.MethodNotAllowed):
        return error_response(
            405, f"Invalid method for URL ({request.method} {request.path}).", code=None
        )
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return error_response(415, "Unsupported content type: send the body as application/json.")
    if isinstance(exc, exceptions.APIException):
        return error_response(exc.status_code, str(exc.detail))
    return None


def invalid_url(request) -> Response:
    """OpenAI's answer for a path it does not serve."""
    return error_response(404, f"Invalid URL ({request.method} {request.path})")


def wrong_base_url(request, base_path: str) -> Response:
    """OpenAI's 404 for a path under the format's prefix but outside its base URL (e.g.
    ``/openai/conversations``, without ``/v1``), naming the base URL an SDK needs."""
    base_url = request.build_absolute_uri(base_path)
    return error_response(
        404,
        f"Invalid URL ({request.method} {request.path}): the base URL of this API on this "
        f'server is {base_url} (OpenAI(base_url="{base_url}", api_key=KEY)).',
    )
