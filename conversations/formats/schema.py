"""OpenAPI 3.1 descriptions of the wire formats (drf-spectacular): the pieces every format shares.

Each format's ``schema`` (a module, or for OpenAI and Telnyx a package: ``components``,
``operations`` and the generator in ``__init__``) decorates that format's real viewsets with
``extend_schema`` and describes its real serializers with ``OpenApiSerializerExtension``; this
module holds what they have in common:

- the auth schemes (``Authorization: Bearer``; Azure also the ``api-key`` header), as
  extensions of :mod:`conversations.http.auth`'s classes;
- the headers: ``x-ms-user-isolation-key`` on every operation, ``x-request-id`` on every
  answer, and the contract of issue 11 — ``ETag`` on answers that render one conversation,
  ``If-Match`` (412 on mismatch, RFC 9110 §13.1.1) on its update and delete, ``If-None-Match``
  (304 on match, RFC 9110 §13.1.2) on its GET, ``Idempotency-Key`` on the create POSTs
  (draft-ietf-httpapi-idempotency-key-header: a replay answers ``Idempotent-Replayed: true``,
  409 while the first request runs, 422 when the body differs), and ``Retry-After`` on
  429 and 503;
- :class:`FormatSpec`, which turns "this operation answers these errors" into the
  ``extend_schema`` arguments with the format's own error bodies;
- :class:`FormatSchemaGenerator`, which generates one format's document from its URL
  patterns (the catch-all "unknown path" route left out) with its own settings. The
  ``manage.py spectacular --generator-class …`` command and the ``openapi.json`` views both
  use it.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from django.urls import include, path
from drf_spectacular.drainage import isolate_view_method, set_override
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.settings import patched_settings
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers

from conversations.formats.base import MAX_ISOLATION_KEY_LENGTH

HEADER = OpenApiParameter.HEADER
QUERY = OpenApiParameter.QUERY
MAX_IDEMPOTENCY_KEY_LENGTH = 255


def ref(name: str) -> dict:
    """A JSON Schema reference to ``#/components/schemas/<name>``."""
    return {"$ref": f"#/components/schemas/{name}"}


def const_field(value: str, description: str = "") -> serializers.Field:
    """A string field documented as the single value ``value`` (``"list"``, …).

    A fresh field class each time: serializers deep-copy their field instances, which keeps
    a class's annotation but not an instance's.
    """
    schema = {"type": "string", "const": value}
    if description:
        schema["description"] = description
    return extend_schema_field(schema)(type("ConstField", (serializers.CharField,), {}))()


def raw_field(schema: dict) -> serializers.Field:
    """A field documented by a raw JSON Schema (for shapes DRF fields cannot express)."""
    return extend_schema_field(schema)(type("RawField", (serializers.JSONField,), {}))()


class SerializerSchema(OpenApiSerializerExtension):
    """A serializer's OpenAPI component written as data (drf-spectacular extension).

    Subclasses set ``target_class`` (the serializer), ``name`` (the component's name — the
    provider's own, e.g. ``Conversation``) and ``schema`` (a JSON Schema dict, used for both
    directions; a copy is handed out, so generating a document never alters it). A subclass
    whose schema is computed overrides :meth:`map_serializer` instead.
    """

    name = ""
    schema: dict = {}

    def get_name(self, auto_schema, direction):
        return self.name

    def map_serializer(self, auto_schema, direction):
        return copy.deepcopy(self.schema)


BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key of a project: `python manage.py create_api_key --project NAME` "
    "prints it on its last line. `Authorization: Bearer <key>`.",
}


class BearerScheme(OpenApiAuthenticationExtension):
    """``Authorization: Bearer <key>`` (:class:`conversations.http.auth.ApiKeyAuthentication`)."""

    target_class = "conversations.http.auth.ApiKeyAuthentication"
    name = "bearer"

    def get_security_definition(self, auto_schema):
        return BEARER_SCHEME


class AzureApiKeyScheme(OpenApiAuthenticationExtension):
    """Bearer or ``api-key: <key>`` (:class:`conversations.http.auth.AzureApiKeyAuthentication`);
    either one suffices (``docs/contract.md``, Azure)."""

    target_class = "conversations.http.auth.AzureApiKeyAuthentication"
    name = ["bearer", "apiKey"]

    def get_security_requirement(self, auto_schema):
        return [{"bearer": []}, {"apiKey": []}]

    def get_security_definition(self, auto_schema):
        return [
            BEARER_SCHEME,
            {
                "type": "apiKey",
                "in": "header",
                "name": "api-key",
                "description": "The same API key in Azure's `api-key` header "
                "(what `openai.AzureOpenAI` sends).",
            },
        ]


ISOLATION_KEY = OpenApiParameter(
    "x-ms-user-isolation-key",
    {"type": "string", "maxLength": MAX_ISOLATION_KEY_LENGTH},
    HEADER,
    description="Narrows the caller's partition: a conversation is visible only with the "
    "isolation key (or absence of one) it was created with; any other answers 404. An empty "
    f"value counts as none. Longer than {MAX_ISOLATION_KEY_LENGTH} characters: a client error "
    "in the format's shape.",
)
REQUEST_ID = OpenApiParameter(
    "x-request-id",
    {"type": "string", "pattern": "^req_[0-9a-f]{32}$"},
    HEADER,
    required=True,
    response=True,
    description="The request's id (`req_` + 32 hex), also stored in the audit trail.",
)
ETAG = OpenApiParameter(
    "ETag",
    str,
    HEADER,
    response=[200],
    description="A strong entity tag of the conversation's state (RFC 9110 §8.8.3): it "
    "changes with every write to the conversation and is the same in every format for the "
    "same state. Send it back in `If-Match` or `If-None-Match`.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    HEADER,
    description="Write only if the conversation's current `ETag` is one of these (RFC 9110 "
    "§13.1.1); `*` matches any existing conversation. Otherwise 412 and nothing is written. "
    "Checked under the same row lock as the write.",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    str,
    HEADER,
    description="Answer 304 with no body when the conversation's current `ETag` matches "
    "(RFC 9110 §13.1.2).",
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY_LENGTH},
    HEADER,
    description="Makes this create safe to retry (draft-ietf-httpapi-idempotency-key-header). "
    "Scoped to the project, isolation key, method and route: the same key with the same body "
    "within 24 hours replays the first answer (same status, body and ids, with "
    "`Idempotent-Replayed: true`) and writes nothing; a different body answers 422; while the "
    f"first request is still running, 409. Longer than {MAX_IDEMPOTENCY_KEY_LENGTH} "
    "characters: 400. A failed (4xx) request does not bind the key.",
)
IDEMPOTENT_REPLAYED = OpenApiParameter(
    "Idempotent-Replayed",
    {"type": "string", "enum": ["true"]},
    HEADER,
    response=[200],
    description="`true` when this answer replays the first answer given to the same "
    "`Idempotency-Key`.",
)
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    {"type": "string", "pattern": "^[0-9]+$"},
    HEADER,
    response=[429, 503],
    description="Seconds to wait before retrying (RFC 9110 §10.2.3); the official SDKs honour it.",
)

STATUS_DESCRIPTIONS = {
    304: "Not modified: `If-None-Match` matched the conversation's current `ETag`. No body.",
    400: "Bad request.",
    401: "The API key is missing, unknown or revoked.",
    404: "Unknown id, an id in no accepted form, or a conversation of another project or "
    "isolation key.",
    405: "Method not allowed on this path.",
    409: "A request with this `Idempotency-Key` is still being processed; retry later.",
    412: "`If-Match` did not match the conversation's current `ETag`; nothing was written.",
    413: "The body is larger than `CONVSTORE_MAX_BODY_BYTES` (default 1 MiB).",
    415: "The body is not `application/json`.",
    422: "Validation error.",
    429: "Rate limit exceeded; retry after `Retry-After` seconds.",
    501: "Not implemented.",
    502: "Bad gateway.",
    503: "Temporarily unavailable (for example the database); retry after `Retry-After` seconds.",
}


@dataclass(frozen=True)
class FormatSpec:
    """One format's error bodies and headers, from which its operations are described.

    ``errors`` maps an HTTP status to the JSON Schema of that format's error body (usually a
    ``$ref`` to a component in ``components``); ``descriptions`` overrides
    :data:`STATUS_DESCRIPTIONS`; ``parameters`` are added to every operation;
    ``always`` are the statuses every operation may answer (auth, rate limit, unavailable);
    ``errors_when_idempotent`` replaces ``errors`` on operations taking ``Idempotency-Key``.
    """

    errors: dict[int, dict]
    components: dict[str, dict]
    descriptions: dict[int, str] = field(default_factory=dict)
    parameters: tuple[OpenApiParameter, ...] = (ISOLATION_KEY, REQUEST_ID, RETRY_AFTER)
    always: tuple[int, ...] = (401, 429, 503)
    errors_when_idempotent: dict[int, dict] = field(default_factory=dict)

    def error(
        self, status: int, description: str | None = None, idempotent: bool = False
    ) -> OpenApiResponse:
        """The documented answer for an error status, with this format's body."""
        text = description or self.descriptions.get(status) or STATUS_DESCRIPTIONS[status]
        body = (idempotent and self.errors_when_idempotent.get(status)) or self.errors[status]
        return OpenApiResponse(response=body, description=text)

    def operation(
        self,
        *,
        operation_id: str,
        summary: str,
        response,
        errors: Iterable[int] = (),
        description: str = "",
        request=None,
        parameters: Sequence[OpenApiParameter] = (),
        tags: Sequence[str] = (),
        conditional: str | None = None,
        idempotent: bool = False,
        error_descriptions: dict[int, str] | None = None,
        **kwargs,
    ) -> Callable:
        """``extend_schema(...)`` for one operation.

        ``response`` is the 200 answer (serializer, raw schema or ``OpenApiResponse``);
        ``errors`` the statuses it may answer besides :attr:`always`. ``conditional`` is
        ``"read"`` (``If-None-Match``, 304, ``ETag``), ``"write"`` (``If-Match``, 412,
        ``ETag``) or ``"delete"`` (``If-Match``, 412); ``idempotent`` adds
        ``Idempotency-Key`` (400, 409, 422 and ``Idempotent-Replayed``).
        """
        params = [*self.parameters, *parameters]
        codes = set(errors) | set(self.always)
        if conditional == "read":
            params += [IF_NONE_MATCH, ETAG]
        elif conditional == "write":
            params += [IF_MATCH, ETAG]
            codes.add(412)
        elif conditional == "delete":
            params.append(IF_MATCH)
            codes.add(412)
        if idempotent:
            params += [IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED]
            codes |= {400, 409, 422}
        if isinstance(response, serializers.BaseSerializer):
            # A page is one object ({"data": [...], …}), never a bare array, even on "list".
            set_override(response, "many", False)
        responses = {200: response}
        if conditional == "read":
            responses[304] = OpenApiResponse(description=STATUS_DESCRIPTIONS[304])
        texts = error_descriptions or {}
        for code in sorted(codes):
            responses[code] = self.error(code, texts.get(code), idempotent)
        return extend_schema(
            operation_id=operation_id,
            summary=summary,
            description=description,
            request=request,
            responses=responses,
            parameters=params,
            tags=list(tags),
            **kwargs,
        )


def describe_view(view, **operations) -> None:
    """Attach ``extend_schema`` decorators to a view's methods by name.

    Like ``extend_schema_view``, but also for the plain methods a router-less ``ViewSet``
    maps by hand (``as_view({"post": "chat"})``), which ``extend_schema_view`` cannot see.
    """
    for name, decorator in operations.items():
        decorator(isolate_view_method(view, name))


def documented(patterns) -> list:
    """A format's URL patterns without its catch-all "unknown path" route (``^.*$``)."""
    return [p for p in patterns if str(p.pattern) != "^.*$"]


_GENERATION_LOCK = threading.Lock()


class FormatSchemaGenerator(SchemaGenerator):
    """Generate one format's document: its routes under ``mount`` and its own ``settings``.

    Subclasses set ``mount`` (e.g. ``"openai/v1/"``), ``url_patterns`` (the format's
    patterns, as included in ``convstore.urls``) and ``settings`` (SPECTACULAR_SETTINGS
    overrides: title, description, components…). Pass one to
    ``manage.py spectacular --generator-class`` or to ``SpectacularAPIView``.
    """

    mount: str = ""
    url_patterns: Sequence = ()
    settings: dict = {}

    def __init__(self, *args, **kwargs):
        kwargs["patterns"] = [path(self.mount, include(documented(self.url_patterns)))]
        kwargs["urlconf"] = None
        super().__init__(*args, **kwargs)

    def get_schema(self, request=None, public=False):
        # patched_settings changes drf-spectacular's process-wide settings: two documents
        # generated at once in two threads would mix each other's components.
        with _GENERATION_LOCK, patched_settings(self.settings):
            return super().get_schema(request=request, public=public)


def format_settings(
    *, title: str, description: str, spec: FormatSpec, prefix: str, tags: list[dict]
) -> dict:
    """The SPECTACULAR_SETTINGS overrides of one format's document."""
    return {
        "TITLE": title,
        "DESCRIPTION": description,
        "VERSION": "1.0.0",
        "SCHEMA_PATH_PREFIX": prefix,
        "APPEND_COMPONENTS": {"schemas": spec.components},
        "TAGS": tags,
    }


# -- FastAPI's validation error, the 422 body of Telnyx and AgentPhone --------------------------

FASTAPI_VALIDATION_COMPONENTS = {
    "ValidationError": {
        "type": "object",
        "description": "One pydantic-style validation error (FastAPI).",
        "properties": {
            "loc": {
                "type": "array",
                "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                "description": 'Where: `["body", "metadata", "<key>"]`, `["query", "limit"]`…',
            },
            "msg": {"type": "string"},
            "type": {
                "type": "string",
                "description": "pydantic v2 error type, e.g. "
                "`string_too_long`, `missing`, `json_invalid`.",
            },
        },
        "required": ["loc", "msg", "type"],
    },
    "HTTPValidationError": {
        "type": "object",
        "description": "FastAPI's 422 body.",
        "properties": {"detail": {"type": "array", "items": ref("ValidationError")}},
        "required": ["detail"],
    },
}
