"""The metadata rules, written once for every format, the admin and the commands.

Metadata is a JSON object of string keys to string values (``docs/contract.md`` §Metadata,
resting on OpenAI's "Set of 16 key-value pairs … Keys … maximum length of 64 characters.
Values … maximum length of 512 characters"):

- at most :data:`MAX_PAIRS` (16) pairs;
- keys 1–:data:`MAX_KEY_LENGTH` (64) characters, values at most :data:`MAX_VALUE_LENGTH` (512)
  characters, counted in Unicode code points, not bytes;
- no NUL character in any key or value (PostgreSQL ``jsonb`` cannot store ``\\u0000``);
- the reserved key ``ai_disabled`` also accepts JSON ``true``/``false``; it is stored as the
  string ``"true"``/``"false"``. ``"true"`` switches AI replies off;
- the reserved key ``ai_disabled_until`` (when the AI comes back by itself) takes an RFC 3339
  date-time with an offset (RFC 3339 §5.6 ``date-time``) and is stored in UTC to the second,
  ``"2026-12-07T05:00:00Z"`` (so stored values sort as text);
- the reserved key ``ai_disabled_idle`` (come back once the human side has been silent that
  long) takes whole seconds (JSON integer or digits) or a duration ``90s``/``15m``/``4h``/``1d``
  of 1 second to :data:`MAX_IDLE` and is stored as decimal seconds, ``"900"``.

What these keys do over time (the timed handoff) is :mod:`conversations.domain.handoff`.

Every rule raises :class:`MetadataError` (a Django ``ValidationError``) whose ``code`` names the
rule and whose ``params`` carry what an adapter needs to word the error in its own format:

========================  ====================================================
code                      params
========================  ====================================================
``not_an_object``         ``got`` (JSON type name)
``too_many_pairs``        ``count``, ``limit``
``key_too_short``         ``key``
``key_too_long``          ``key``, ``length``, ``limit``
``value_too_long``        ``key``, ``length``, ``limit``
``invalid_value_type``    ``key``, ``got`` (JSON type name)
``invalid_ai_disabled``   ``key``, ``value``
``invalid_ai_disabled_until``  ``key``, ``value``
``invalid_ai_disabled_idle``   ``key``, ``value``
``nul_character``         ``key`` (or ``None`` when the NUL is in a key)
``invalid_unicode``       ``key`` (or ``None`` when the key itself holds a lone surrogate)
========================  ====================================================

The functions here are pure: the service layer applies them under a row lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError

from conversations.domain.durations import format_until, parse_duration, parse_until

MAX_PAIRS = 16
MAX_KEY_LENGTH = 64
MAX_VALUE_LENGTH = 512
AI_DISABLED_KEY = "ai_disabled"
AI_DISABLED_TRUE = "true"
AI_DISABLED_FALSE = "false"
AI_DISABLED_UNTIL_KEY = "ai_disabled_until"
AI_DISABLED_IDLE_KEY = "ai_disabled_idle"
AI_DISABLED_REASON_KEY = "ai_disabled_reason"
#: The keys that describe a handoff in force; they live only while ``ai_disabled`` is "true".
HANDOFF_KEYS = (
    AI_DISABLED_UNTIL_KEY,
    AI_DISABLED_IDLE_KEY,
    AI_DISABLED_REASON_KEY,
)
#: How the API descriptions of every format word the handoff keys (docs/handoff.md).
HANDOFF_NOTE = (
    " A timed handoff: `ai_disabled_until` (RFC 3339 date-time with an offset; stored in UTC) "
    "turns the AI back on at that time, `ai_disabled_idle` (seconds, or `15m`, `4h`) once the "
    "agent side has been silent that long, `ai_disabled_reason` says why; these keys go when "
    "the AI is on."
)
#: The longest ``ai_disabled_idle``: seven days.
MAX_IDLE = timedelta(days=7)

#: Keys with a documented meaning. Only ``ai_disabled`` changes what convstore does; the rest
#: are ordinary metadata that the providers write themselves (Telnyx docs: "Keys starting with
#: ``telnyx_`` and the ``assistant_id`` key are reserved"). Shown to staff in the admin.
RESERVED_KEYS: dict[str, str] = {
    AI_DISABLED_KEY: '"true" switches AI replies off for this conversation; "false" or no key '
    "switches them on.",
    AI_DISABLED_UNTIL_KEY: "RFC 3339 time (UTC) when the AI comes back by itself; absent: "
    "off until turned on.",
    AI_DISABLED_IDLE_KEY: "Seconds: each staff/agent message keeps the AI off that much longer.",
    AI_DISABLED_REASON_KEY: "Why a person took over (free text).",
    "assistant_id": "The assistant that handles the conversation (Telnyx reserved key).",
    "assistant_version_id": "The assistant version at conversation start (Telnyx).",
    "call_control_id": "The call this conversation belongs to (Telnyx phone calls).",
    "telnyx_conversation_channel": "Channel: phone_call, sms_chat, web_chat, whatsapp_chat.",
    "telnyx_agent_target": "The assistant's side: phone number or SIP URI (Telnyx).",
    "telnyx_end_user_target": "The end user's side: phone number or SIP URI (Telnyx).",
}

Metadata = dict[str, str]


class MetadataError(ValidationError):
    """A metadata rule was broken; ``code`` and ``params`` say which and where (see module)."""

    def __init__(self, message: str, *, code: str, **params: Any) -> None:
        super().__init__(message, code=code, params=params)

    @property
    def key(self) -> str | None:
        """The metadata key at fault, or ``None`` when the fault is the whole object."""
        return self.params.get("key")


def json_type_name(value: Any) -> str:
    """Name a JSON value's type the way JSON Schema does (``string``, ``integer``, ``array``…)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def contains_nul(value: Any) -> bool:
    """Whether a JSON-like value holds a NUL character in any string, key or nested item."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(contains_nul(item) for item in value)
    return False


def has_lone_surrogate(value: Any) -> bool:
    """Whether a JSON-like value holds a lone UTF-16 surrogate (unstorable, unencodable)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, Mapping):
        return any(has_lone_surrogate(k) or has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_lone_surrogate(item) for item in value)
    return False


def _check_characters(text: str, key: str | None) -> None:
    if "\x00" in text:
        where = f"value for '{key}'" if key is not None else "keys"
        raise MetadataError(
            f"Metadata {where} may not contain the NUL character.", code="nul_character", key=key
        )
    if has_lone_surrogate(text):
        raise MetadataError(
            "Metadata may not contain lone surrogate characters.", code="invalid_unicode", key=key
        )


def normalize_ai_disabled(value: Any) -> str:
    """Return ``"true"``/``"false"`` for a JSON bool or a case-insensitive ``"true"``/``"false"``.

    Raises :class:`MetadataError` (``invalid_ai_disabled``) for anything else.
    """
    if isinstance(value, bool):
        return AI_DISABLED_TRUE if value else AI_DISABLED_FALSE
    if isinstance(value, str) and value.strip().lower() in (AI_DISABLED_TRUE, AI_DISABLED_FALSE):
        return value.strip().lower()
    raise MetadataError(
        f"Invalid value for '{AI_DISABLED_KEY}': expected true or false, got {value!r}.",
        code="invalid_ai_disabled",
        key=AI_DISABLED_KEY,
        value=value,
    )


def _normalize_until(value: Any) -> str:
    try:
        return format_until(parse_until(value))
    except (ValueError, OverflowError):
        raise MetadataError(
            f"Invalid value for '{AI_DISABLED_UNTIL_KEY}': expected an RFC 3339 date-time with "
            f"an offset, e.g. 2026-12-07T05:00:00Z, got {value!r}.",
            code="invalid_ai_disabled_until",
            key=AI_DISABLED_UNTIL_KEY,
            value=value,
        ) from None


def _normalize_idle(value: Any) -> str:
    try:
        idle = parse_duration(value)
    except ValueError:
        idle = None
    if idle is None or not timedelta(seconds=1) <= idle <= MAX_IDLE:
        raise MetadataError(
            f"Invalid value for '{AI_DISABLED_IDLE_KEY}': expected seconds or a duration like "
            f"15m, from 1 second to {MAX_IDLE.days} days, got {value!r}.",
            code="invalid_ai_disabled_idle",
            key=AI_DISABLED_IDLE_KEY,
            value=value,
        )
    return str(int(idle.total_seconds()))


_NORMALIZERS = {
    AI_DISABLED_KEY: normalize_ai_disabled,
    AI_DISABLED_UNTIL_KEY: _normalize_until,
    AI_DISABLED_IDLE_KEY: _normalize_idle,
}


def _check_key(key: Any) -> None:
    if not isinstance(key, str):  # JSON objects only have string keys; Python callers may not.
        raise MetadataError(
            "Metadata keys must be strings.",
            code="invalid_value_type",
            key=str(key),
            got=json_type_name(key),
        )
    _check_characters(key, None)
    if len(key) < 1:
        raise MetadataError(
            "Metadata keys must be at least 1 character long.", code="key_too_short", key=key
        )
    if len(key) > MAX_KEY_LENGTH:
        raise MetadataError(
            f"Metadata key '{key}' is too long: {len(key)} characters, at most "
            f"{MAX_KEY_LENGTH} allowed.",
            code="key_too_long",
            key=key,
            length=len(key),
            limit=MAX_KEY_LENGTH,
        )


def _clean_value(key: str, value: Any) -> str:
    if key in _NORMALIZERS:
        return _NORMALIZERS[key](value)
    if not isinstance(value, str):
        raise MetadataError(
            f"Metadata value for '{key}' must be a string, got {json_type_name(value)}.",
            code="invalid_value_type",
            key=key,
            got=json_type_name(value),
        )
    _check_characters(value, key)
    if len(value) > MAX_VALUE_LENGTH:
        raise MetadataError(
            f"Metadata value for '{key}' is too long: {len(value)} characters, at most "
            f"{MAX_VALUE_LENGTH} allowed.",
            code="value_too_long",
            key=key,
            length=len(value),
            limit=MAX_VALUE_LENGTH,
        )
    return value


def _check_count(count: int) -> None:
    if count > MAX_PAIRS:
        raise MetadataError(
            f"Metadata may hold at most {MAX_PAIRS} pairs, got {count}.",
            code="too_many_pairs",
            count=count,
            limit=MAX_PAIRS,
        )


def _check_object(value: Any) -> Mapping:
    if not isinstance(value, Mapping):
        raise MetadataError(
            f"Metadata must be an object, got {json_type_name(value)}.",
            code="not_an_object",
            got=json_type_name(value),
        )
    return value


def _validate(value: Any, *, allow_delete: bool) -> dict[str, str | None]:
    obj = _check_object(value)
    _check_count(len(obj))
    cleaned: dict[str, str | None] = {}
    for key, item in obj.items():
        _check_key(key)
        cleaned[key] = None if (allow_delete and item is None) else _clean_value(key, item)
    return cleaned


def _plain_valid(value: Any) -> Metadata | None:
    """A copy of ``value`` when it plainly keeps every rule — a ``dict`` of at most
    :data:`MAX_PAIRS` string pairs within the lengths, no ``ai_disabled`` key nor handoff
    time (they may need normalising), no NUL, no lone surrogate — else ``None``: the caller
    then checks pair by pair, which finds the first rule broken. One pass and one scan of
    the joined text instead of several calls per pair (the bulk import checks a million
    objects)."""
    if type(value) is not dict or len(value) > MAX_PAIRS:
        return None
    if not _NORMALIZERS.keys().isdisjoint(value):
        return None
    for key, item in value.items():
        if (
            type(key) is not str
            or type(item) is not str
            or not 0 < len(key) <= MAX_KEY_LENGTH
            or len(item) > MAX_VALUE_LENGTH
        ):
            return None
    text = "".join(value) + "".join(value.values())
    if "\x00" in text or not (text.isascii() or _encodes(text)):
        return None
    return dict(value)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def validate_metadata(value: Any) -> Metadata:
    """Check a complete metadata object and return it normalised (``ai_disabled`` as a string).

    Used as the model field validator and on every stored result.

    Raises:
        MetadataError: the first rule broken, checked in the order: object, pair count, then
        each key and value in the object's order.
    """
    plain = _plain_valid(value)
    return plain if plain is not None else _validate(value, allow_delete=False)


def validate_patch(value: Any) -> dict[str, str | None]:
    """Check a merge patch like :func:`validate_metadata`; a ``None`` value (delete) is allowed.

    The pair count is checked on the patch itself here and again on the merged result by
    :func:`merge`.
    """
    return _validate(value, allow_delete=True)


def merge(stored: Mapping[str, str] | None, patch: Mapping[str, str | None]) -> Metadata:
    """Shallow-merge a validated patch into stored metadata; a ``None`` value removes its key.

    Returns a new dict in insertion order (stored keys first, new keys appended).

    Raises:
        MetadataError: ``too_many_pairs`` when the result would exceed :data:`MAX_PAIRS`.
    """
    result: Metadata = dict(stored or {})
    for key, item in patch.items():
        if item is None:
            result.pop(key, None)
        else:
            result[key] = item
    _check_count(len(result))
    return result


def is_ai_disabled(metadata: Mapping[str, str] | None) -> bool:
    """Whether the stored AI switch is off: ``metadata["ai_disabled"] == "true"``.

    The stored switch, mirrored in ``Conversation.ai_disabled``; whether the AI is off *now*
    (a timed handoff may have ended) is :func:`conversations.domain.handoff.ai_off`."""
    return bool(metadata) and metadata.get(AI_DISABLED_KEY) == AI_DISABLED_TRUE


def with_ai_disabled(metadata: Mapping[str, str] | None, disabled: bool) -> Metadata:
    """Return a copy of ``metadata`` with the AI switch set (``"true"`` or ``"false"``)."""
    result = dict(metadata or {})
    result[AI_DISABLED_KEY] = AI_DISABLED_TRUE if disabled else AI_DISABLED_FALSE
    _check_count(len(result))
    return result
