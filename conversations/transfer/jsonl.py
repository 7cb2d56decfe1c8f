"""The JSONL export/import schema: one conversation, with its messages, per line.

A line is a JSON object (keys sorted, UTF-8, no spaces) with these keys; times are ISO 8601
in UTC with microseconds when non-zero (``2026-11-23T16:05:44.123456+00:00``):

=========================  ===============================================================
``id``                     dashed UUID (import also accepts ``conv_<32 hex>`` and 32 hex)
``project``                project name (created on import if new)
``isolation_key``          string, "" when none (Azure ``x-ms-user-isolation-key``)
``name``                   string
``created_at``             time
``last_message_at``        time of the latest message ("last activity")
``updated_at``             time
``metadata``               object of string pairs (the metadata rules apply) or ``null``
``channel``, ``agent_id``, ``phone_number_id``, ``phone_number``, ``participant``: strings
``is_group``               boolean
``group_name``             string or ``null``
``last_message_preview``   string
``messages``               array, oldest first, of message objects (below)
=========================  ===============================================================

A message object: ``id`` (UUID), ``item_type``, ``item_id`` (the OpenAI item id the client
sent, "" when the store issued it; unique within a conversation), ``role`` (``user``,
``assistant``, ``system``, ``developer``, ``tool`` or ""), ``status``, ``content``, ``name``,
``tool_call_id``, ``direction`` (``inbound``, ``outbound`` or ""), ``channel``,
``from_number``, ``to_number`` (strings); ``content_parts``, ``payload``, ``tool_calls``,
``metadata`` (any JSON or ``null``); ``media_urls``, ``reactions`` (arrays); ``sent_at``
(time or ``null``), ``created_at`` (time).

On import only ``id`` and ``project`` are required. A missing key leaves the stored value (or
the default for a new conversation); a missing ``messages`` leaves the stored messages, a
present one replaces them. ``ai_disabled`` and ``message_count`` are derived, not exported.
Unknown keys are errors. The audit trail is not exported.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from functools import cache
from typing import Any

import orjson
from django.conf import settings

from conversations.domain import handoff
from conversations.domain import metadata as rules
from conversations.domain.ids import parse_id
from conversations.domain.limits import json_depth_exceeds
from conversations.models import Conversation, Message
from conversations.transfer.importing import ConversationImport

CONVERSATION_STRINGS = (
    "isolation_key",
    "name",
    "channel",
    "agent_id",
    "phone_number_id",
    "phone_number",
    "participant",
    "last_message_preview",
)
CONVERSATION_TIMES = ("created_at", "last_message_at", "updated_at")
MESSAGE_STRINGS = (
    "item_type",
    "item_id",
    "role",
    "status",
    "content",
    "name",
    "tool_call_id",
    "direction",
    "channel",
    "from_number",
    "to_number",
)
MESSAGE_JSON = ("content_parts", "payload", "tool_calls", "metadata")
MESSAGE_LISTS = ("media_urls", "reactions")
CONVERSATION_KEYS = {
    "id",
    "project",
    "metadata",
    "is_group",
    "group_name",
    "messages",
    *CONVERSATION_STRINGS,
    *CONVERSATION_TIMES,
}
MESSAGE_KEYS = {"id", "sent_at", "created_at", *MESSAGE_STRINGS, *MESSAGE_JSON, *MESSAGE_LISTS}
_CONVERSATION_LIMITS = {
    f: Conversation._meta.get_field(f).max_length or float("inf") for f in CONVERSATION_STRINGS
}
ROLES = {value for value, _ in Message.ROLE_CHOICES}
DIRECTIONS = {"", *(value for value, _ in Message.DIRECTION_CHOICES)}


class RecordError(ValueError):
    """A line breaks the schema or the metadata rules; the message says which field and how."""


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def conversation_to_record(conversation: Conversation, messages) -> dict[str, Any]:
    """The export object of one conversation (``messages`` oldest first)."""
    record: dict[str, Any] = {
        "id": str(conversation.pk),
        "project": conversation.project.name,
        "metadata": handoff.effective_metadata(conversation),
        "is_group": conversation.is_group,
        "group_name": conversation.group_name,
        "messages": [_message_to_record(m) for m in messages],
    }
    record.update((f, getattr(conversation, f)) for f in CONVERSATION_STRINGS)
    record.update((f, _time(getattr(conversation, f))) for f in CONVERSATION_TIMES)
    return record


def _message_to_record(message: Message) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": str(message.public_id),
        "sent_at": _time(message.sent_at),
        "created_at": _time(message.created_at),
    }
    record.update((f, getattr(message, f)) for f in (*MESSAGE_STRINGS, *MESSAGE_JSON))
    record.update((f, getattr(message, f)) for f in MESSAGE_LISTS)
    return record


def dumps(record: dict[str, Any]) -> str:
    """One JSONL line (without the newline): sorted keys, so output is byte-stable."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# --- import ------------------------------------------------------------------------------------


@cache
def _max_length(model, field: str) -> int | None:
    return model._meta.get_field(field).max_length


def _string(obj: dict, field: str, model, where: str) -> str:
    value = obj[field]
    if not isinstance(value, str):
        raise RecordError(f"{where}{field}: expected a string, got {rules.json_type_name(value)}.")
    limit = _max_length(model, field)
    if limit is not None and len(value) > limit:
        raise RecordError(f"{where}{field}: longer than {limit} characters.")
    return value


def _parse_time(value: Any, field: str, where: str, *, nullable: bool = False) -> datetime | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{where}{field}: expected an ISO 8601 time string.")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"{where}{field}: not an ISO 8601 time: {value[:40]!r}.") from None
    if parsed.tzinfo is None:
        raise RecordError(f"{where}{field}: the time needs a UTC offset, e.g. +00:00.")
    return parsed


def _uuid(value: Any, where: str) -> uuid.UUID:
    parsed = parse_id(value) if isinstance(value, str) else None
    if parsed is None:
        raise RecordError(f"{where}id: expected a UUID, conv_<32 hex> or 32 hex.")
    return parsed


def _unknown(obj: dict, allowed: set[str], where: str) -> None:
    if obj.keys() <= allowed:
        return
    extra = sorted(set(obj) - allowed)
    if extra:
        raise RecordError(f"{where}unknown key(s): {', '.join(extra)}.")


# orjson reads what json.loads reads, value for value, but faster; except integers beyond 64
# bits (it reads floats), lone surrogate escapes and NaN/Infinity (it refuses them). A line that
# orjson refuses goes to json.loads, which also words the error. A float can only survive the
# checks below inside a message's free JSON fields (every other field wants a string, a boolean
# or a time), so a line is read again by json.loads only when orjson left a float there, or the
# line fails a check, and the line holds a run of 19 digits (an integer orjson may have widened).
_BIG_INTEGER = re.compile(r"[0-9]{19}")
_FREE_JSON = (*MESSAGE_JSON, *MESSAGE_LISTS)


def _has_float(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is float:
            return True
        if type(item) is dict:
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
    return False


def parse_line(line: str) -> ConversationImport:
    """Parse and check one JSONL line against the schema and the metadata rules.

    Raises:
        RecordError: with a message naming the field at fault.
    """
    depth = settings.CONVSTORE_MAX_JSON_DEPTH + 1  # a line wraps messages one level deeper
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return _check_record(line, _json_loads(line, depth), depth)
    try:
        record = _check_record(line, obj, depth)
    except RecordError:
        if not _BIG_INTEGER.search(line):
            raise
        # Words the error as json.loads reads the line (an integer, not a widened float).
        return _check_record(line, _json_loads(line, depth), depth)
    if (
        record.messages
        and _has_float([m.get(f) for m in record.messages for f in _FREE_JSON])
        and _BIG_INTEGER.search(line)
    ):
        return _check_record(line, _json_loads(line, depth), depth)
    return record


def parse_raw_line(raw: bytes) -> ConversationImport | None:
    """:func:`parse_line` of a line as read from the file; ``None`` for a blank line.

    Raises:
        RecordError: the line is not UTF-8 text, or as :func:`parse_line`.
    """
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RecordError("not UTF-8 text.") from None
    return parse_line(line) if line.strip() else None


def parse_raw_lines(
    lines: Iterable[bytes], first: int = 1
) -> Iterator[tuple[int, ConversationImport | RecordError]]:
    """``(line number, record or its RecordError)`` for each non-blank line of ``lines`` (as
    read from the file, numbered from ``first``), by :func:`parse_raw_line`."""
    for number, raw in enumerate(lines, first):
        try:
            record = parse_raw_line(raw)
        except RecordError as exc:
            yield number, exc
            continue
        if record is not None:
            yield number, record


def _json_loads(line: str, depth: int) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise RecordError(f"not valid JSON: {exc.msg} at column {exc.colno}.") from None
    except RecursionError:
        raise RecordError(f"nested deeper than {depth} levels.") from None


def _check_record(line: str, obj: Any, depth: int) -> ConversationImport:
    # Nesting cannot exceed the number of brackets opened: most lines skip the walk.
    if line.count("{") + line.count("[") > depth and json_depth_exceeds(obj, depth):
        raise RecordError(f"nested deeper than {depth} levels.")
    if not isinstance(obj, dict):
        raise RecordError(f"expected a JSON object, got {rules.json_type_name(obj)}.")
    # A NUL can only reach a parsed value through the escape \u0000 (JSON forbids it raw).
    if "\\u0000" in line and rules.contains_nul(obj):
        raise RecordError("the NUL character (\\u0000) cannot be stored.")
    _unknown(obj, CONVERSATION_KEYS, "")
    for required in ("id", "project"):
        if required not in obj:
            raise RecordError(f"missing required key '{required}'.")
    pk = _uuid(obj["id"], "")
    project = obj["project"]
    if not isinstance(project, str) or not project.strip() or len(project) > 100:
        raise RecordError("project: expected a non-empty name of at most 100 characters.")
    fields: dict[str, Any] = {}
    for field in CONVERSATION_STRINGS:
        if field in obj:
            value = obj[field]
            if type(value) is str and len(value) <= _CONVERSATION_LIMITS[field]:
                fields[field] = value  # the common case, without a call
            else:
                fields[field] = _string(obj, field, Conversation, "")  # checks or raises
    for field in CONVERSATION_TIMES:
        if field in obj:
            fields[field] = _parse_time(obj[field], field, "")
    if "is_group" in obj:
        if not isinstance(obj["is_group"], bool):
            raise RecordError("is_group: expected true or false.")
        fields["is_group"] = obj["is_group"]
    if "group_name" in obj:
        fields["group_name"] = (
            None if obj["group_name"] is None else _string(obj, "group_name", Conversation, "")
        )
    if "metadata" in obj:
        try:
            fields["metadata"] = (
                None if obj["metadata"] is None else rules.validate_metadata(obj["metadata"])
            )
        except rules.MetadataError as exc:
            raise RecordError(f"metadata: {exc.message}") from None
    messages = None
    if "messages" in obj:
        if not isinstance(obj["messages"], list):
            raise RecordError("messages: expected an array.")
        messages = [_parse_message(m, i) for i, m in enumerate(obj["messages"])]
        sent_ids = [m["item_id"] for m in messages if m.get("item_id")]
        if len(set(sent_ids)) != len(sent_ids):
            raise RecordError("messages: an item_id appears twice in the conversation.")
    return ConversationImport(id=pk, project=project.strip(), fields=fields, messages=messages)


def _parse_message(obj: Any, index: int) -> dict[str, Any]:
    where = f"messages[{index}]."
    if not isinstance(obj, dict):
        raise RecordError(f"messages[{index}]: expected an object.")
    _unknown(obj, MESSAGE_KEYS, where)
    values: dict[str, Any] = {"public_id": _uuid(obj["id"], where) if "id" in obj else uuid.uuid4()}
    for field in MESSAGE_STRINGS:
        if field in obj:
            values[field] = _string(obj, field, Message, where)
    if values.get("role", "") not in ROLES:
        roles = ", ".join(sorted(ROLES - {""}))
        raise RecordError(f'{where}role: expected one of {roles} or "".')
    if values.get("direction", "") not in DIRECTIONS:
        raise RecordError(f'{where}direction: expected inbound, outbound or "".')
    for field in MESSAGE_JSON:
        if field in obj:
            values[field] = obj[field]
    for field in MESSAGE_LISTS:
        if field in obj:
            if not isinstance(obj[field], list):
                raise RecordError(f"{where}{field}: expected an array.")
            values[field] = obj[field]
    if "sent_at" in obj:
        values["sent_at"] = _parse_time(obj["sent_at"], "sent_at", where, nullable=True)
    if "created_at" in obj:
        values["created_at"] = _parse_time(obj["created_at"], "created_at", where)
    return values
