"""Compile parsed PostgREST conditions (:mod:`.postgrest`) to Django ``Q`` objects.

Which columns and operators the Telnyx list accepts, and what they mean, is decided here;
:mod:`.filters` wires it into a django-filter ``FilterSet``. See that module for the table.
Every unsupported column, operator or value raises
:class:`~.postgrest.FilterSyntaxError` (a 422).
"""

from __future__ import annotations

import datetime as dt
import json
from functools import reduce
from operator import and_, or_

from django.db import connection
from django.db.models import BooleanField, F, Func, Q, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.db.models.lookups import Exact, In, IsNull, Lookup
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from conversations.domain.ids import parse_id
from conversations.formats.telnyx.postgrest import Condition, FilterSyntaxError, Group
from conversations.selectors import metadata_contains_q

DATETIME_COLUMNS = ("created_at", "last_message_at")
METADATA_PREFIXES = ("metadata->>", "metadata->")
_OPERATORS = {
    "id": ("eq", "neq", "in"),
    "name": ("eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "in"),
    "datetime": ("eq", "neq", "gt", "gte", "lt", "lte"),
    "metadata": ("eq", "neq", "like", "ilike", "in", "is"),
}


class Like(Lookup):
    """SQL ``LIKE`` with ``\\`` as the escape character, the same on both databases.

    PostgreSQL: ``LIKE`` / ``ILIKE``. SQLite's ``LIKE`` ignores ASCII case, so a
    case-sensitive match there uses ``GLOB`` with the pattern translated; ``ilike`` uses
    ``LIKE`` (ASCII-only case folding, as SQLite does without ICU).
    """

    lookup_name = "postgrest_like"
    prepare_rhs = False
    case_sensitive = True

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "postgresql":
            operator = "LIKE" if self.case_sensitive else "ILIKE"
            return f"{lhs} {operator} {rhs}", [*lhs_params, *rhs_params]
        if self.case_sensitive:
            return f"{lhs} GLOB {rhs}", [*lhs_params, *[_like_to_glob(p) for p in rhs_params]]
        return f"{lhs} LIKE {rhs} ESCAPE '\\'", [*lhs_params, *rhs_params]


class ILike(Like):
    """Case-insensitive :class:`Like`."""

    lookup_name = "postgrest_ilike"
    case_sensitive = False


def _like_to_glob(pattern: str) -> str:
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            char, index = pattern[index + 1], index + 1
            out.append(f"[{char}]" if char in "*?[" else char)
        elif char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        else:
            out.append(f"[{char}]" if char in "*?[" else char)
        index += 1
    return "".join(out)


def _like_pattern(value: str) -> str:
    pattern = value.replace("*", "%")
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    if trailing % 2:
        raise FilterSyntaxError(f"Invalid pattern {value!r}: it ends with the escape character.")
    return pattern


def _column_kind(column: str) -> tuple[str, str | None]:
    for prefix in METADATA_PREFIXES:
        if column.startswith(prefix):
            key = column[len(prefix) :]
            if not key:
                raise FilterSyntaxError(f"Invalid column {column!r}: the metadata key is empty.")
            return "metadata", key
    if column in DATETIME_COLUMNS:
        return "datetime", None
    if column in ("id", "name"):
        return column, None
    raise FilterSyntaxError(
        f"Unknown column {column!r}: filter on id, name, created_at, last_message_at or "
        "metadata->KEY.",
        code="filter_column",
    )


def _parse_time(value: str) -> tuple[dt.datetime, dt.datetime | None]:
    """``(instant, end of day)`` for a date-only value, ``(instant, None)`` for a datetime."""
    try:
        day = parse_date(value)
        if day is not None:
            start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
            return start, start + dt.timedelta(days=1)
        # A hand-typed "+00:00" arrives as " 00:00" after form decoding; be lenient.
        moment = parse_datetime(value) or parse_datetime(value.replace(" ", "+"))
        if moment is not None:
            if timezone.is_naive(moment):
                moment = moment.replace(tzinfo=dt.UTC)
            return moment.astimezone(dt.UTC), None
    except (ValueError, OverflowError):
        pass  # out-of-range parts or dates (9999-12-31 + 1 day) are bad values like any other
    raise FilterSyntaxError(
        f"Invalid datetime {value!r}: expected ISO 8601 between years 1 and 9999, e.g. "
        "2025-01-01 or 2025-01-01T12:00:00Z.",
        code="datetime_parsing",
    )


def _datetime_q(column: str, op: str, value: str) -> Q:
    moment, day_end = _parse_time(value)
    if op in ("eq", "neq") and day_end is not None:
        return Q(**{f"{column}__gte": moment, f"{column}__lt": day_end})
    lookup = {"eq": "exact", "neq": "exact"}.get(op, op)
    return Q(**{f"{column}__{lookup}": moment})


def _id_q(cond: Condition) -> Q:
    values = cond.values if cond.op == "in" else (cond.value,)
    # Ids in no accepted form match nothing, as an unknown id is "not found" everywhere.
    return Q(pk__in=[pk for pk in map(parse_id, values) if pk is not None])


def _name_q(cond: Condition) -> Q:
    if cond.op == "in":
        return Q(name__in=cond.values)
    if cond.op in ("like", "ilike"):
        lookup = Like if cond.op == "like" else ILike
        return Q(lookup(F("name"), _like_pattern(cond.value)))
    lookup = {"eq": "exact", "neq": "exact"}.get(cond.op, cond.op)
    return Q(**{f"name__{lookup}": cond.value})


class SQLiteMetadataValue(Func):
    """``(SELECT value FROM json_each(metadata) WHERE key = %s)`` on SQLite.

    SQLite's JSON paths (``$."key"``) cannot name a key holding a double quote; ``json_each``
    reaches every key, and reads the row's metadata once (Django's ``KeyTextTransform`` there
    is a ``CASE`` reading it three times).
    """

    output_field = TextField()

    def __init__(self, key: str):
        super().__init__(F("metadata"))
        self.key = key

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.get_source_expressions()[0])
        return f"(SELECT value FROM json_each({sql}) WHERE key = %s)", [*params, self.key]


def _sqlite_path_unsafe(key: str) -> bool:
    return connection.vendor == "sqlite" and '"' in key


def _metadata_value(key: str):
    """The key's value as text (NULL when absent), one read of the row's metadata."""
    if connection.vendor == "sqlite":
        return SQLiteMetadataValue(key)
    return KeyTextTransform(key, "metadata")  # metadata ->> 'key'


class JsonPathExists(Func):
    """``metadata @? '<jsonpath>'`` (PostgreSQL): the path yields an item; one read of the row.

    jsonb's GIN index (``jsonb_ops``) serves ``@?`` for equality filters joined by ``||``.
    """

    output_field = BooleanField()
    conditional = True

    def __init__(self, path: str):
        super().__init__(F("metadata"))
        self.path = path

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.get_source_expressions()[0])
        return f"({sql} @? %s::jsonpath)", [*params, self.path]


def _jsonpath_string(text: str) -> str:
    # JSON string escapes are jsonpath string escapes (PostgreSQL docs §8.14.7).
    return json.dumps(text, ensure_ascii=False)


def _metadata_in(key: str, values: tuple[str, ...]) -> Q:
    if not values:
        return Q(pk__in=[])
    if connection.vendor == "postgresql":
        # One jsonpath reads the row's metadata once for every value and is GIN-served,
        # where an OR of containments reads (detoasts) it once per value.
        alternatives = " || ".join(f"@ == {_jsonpath_string(v)}" for v in values)
        return Q(JsonPathExists(f"$.{_jsonpath_string(key)} ? ({alternatives})"))
    return Q(In(_metadata_value(key), list(values)))


def _metadata_q(cond: Condition, key: str) -> Q:
    """One metadata condition, reading the row's ``metadata`` once (issue 9).

    A condition other than ``is.null`` only matches rows holding the key: the positive
    forms (``@>`` containment, ``@?`` jsonpath, ``->>`` text) are false or NULL without it,
    and a negation compares the key's text (``NOT (metadata->>'k' = 'v')``), which is NULL,
    so not matched, when the key is missing. Metadata values are always strings
    (:mod:`conversations.domain.metadata`), so text and containment comparisons agree.
    """
    if _sqlite_path_unsafe(key):
        has_key = Q(IsNull(SQLiteMetadataValue(key), False))
    else:
        has_key = Q(metadata__has_key=key)
    negate = cond.negate != (cond.op == "neq")
    if cond.op == "is":
        if cond.value == "null":
            return has_key if cond.negate else Q(metadata__isnull=True) | ~has_key
        if cond.value not in ("true", "false"):
            raise FilterSyntaxError(
                f"Invalid 'is' value {cond.value!r}: expected null, true or false."
            )
    value = _metadata_value(key)
    if negate:
        if cond.op == "in":
            positive = Q(In(value, list(cond.values))) if cond.values else None
        elif cond.op in ("like", "ilike"):
            lookup = Like if cond.op == "like" else ILike
            positive = Q(lookup(value, _like_pattern(cond.value)))
        else:  # eq, neq, is.true, is.false
            positive = Q(Exact(value, cond.value))
        # NOT over a NULL (missing key) is NULL: such rows stay out, as SQL has it.
        return Q(IsNull(value, False)) if positive is None else ~positive
    if cond.op in ("eq", "neq", "is"):
        return metadata_contains_q({key: cond.value})
    if cond.op == "in":
        return _metadata_in(key, cond.values)
    lookup = Like if cond.op == "like" else ILike
    pattern = _like_pattern(cond.value)
    matches = Q(lookup(value, pattern))
    prefilter = _text_prefilter(pattern) if connection.vendor == "postgresql" else None
    if prefilter is None:
        return matches
    return Q(lookup(Cast(F("metadata"), TextField()), prefilter)) & matches


def _text_prefilter(pattern: str) -> str | None:
    """A looser pattern for the whole metadata's JSON text, implied by ``pattern`` matching a
    value, for the trigram index ``conv_metadata_trgm_idx``; ``None`` when no trigram can be
    drawn from it (no three literal characters in a row) or when a literal character would be
    escaped in JSON text (``"``, ``\\``, control characters). ``_`` widens to ``%`` (one
    character of a value may be several of its JSON text), and the pattern floats (``%…%``).
    """
    out, run, longest, index = [], 0, 0, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 1
            char = pattern[index]
            literal = True
        else:
            literal = char not in "%_"
        if not literal:
            out.append("%")
            run = 0
        elif char in '"\\' or ord(char) < 0x20:
            return None
        else:
            out.append("\\" + char if char in "%_\\" else char)
            run += 1
            longest = max(longest, run)
        index += 1
    return f"%{''.join(out)}%" if longest >= 3 else None


def condition_q(cond: Condition) -> Q:
    """Compile one parsed condition to a ``Q`` (raises :class:`FilterSyntaxError`)."""
    kind, key = _column_kind(cond.column)
    if cond.op not in _OPERATORS[kind]:
        raise FilterSyntaxError(
            f"Operator {cond.op!r} is not supported on {cond.column!r}; use one of "
            f"{', '.join(_OPERATORS[kind])}.",
            code="filter_operator",
        )
    if any("\x00" in v for v in (cond.column, cond.value, *cond.values)):
        raise FilterSyntaxError("Filter values may not contain the NUL character.")
    if kind == "metadata":
        return _metadata_q(cond, key)
    if kind == "id":
        positive = _id_q(cond)
    elif kind == "name":
        positive = _name_q(cond)
    else:
        positive = _datetime_q(cond.column, cond.op, cond.value)
    negate = cond.negate != (cond.op == "neq")
    return ~positive if negate else positive


def metadata_condition_count(parsed: Condition | Group) -> int:
    """How many metadata conditions ``parsed`` holds (an ``in.(…)`` counts one)."""
    if isinstance(parsed, Group):
        return sum(metadata_condition_count(item) for item in parsed.items)
    return int(parsed.column.startswith(METADATA_PREFIXES))


#: Metadata operators an index on ``metadata`` serves: ``eq``/``is.true``/``is.false`` (jsonb
#: containment) and ``in.(…)`` (jsonpath), not negated (``conv_metadata_path_idx``).
INDEXED_METADATA_OPS = ("eq", "in", "is")


def metadata_index_serves(parsed: Condition | Group) -> bool:
    """Whether every condition of ``parsed`` is a metadata condition the metadata index
    serves (:data:`INDEXED_METADATA_OPS`, not negated; ``is.null`` excluded)."""
    if isinstance(parsed, Group):
        return all(metadata_index_serves(item) for item in parsed.items)
    return (
        parsed.column.startswith(METADATA_PREFIXES)
        and parsed.op in INDEXED_METADATA_OPS
        and not parsed.negate
        and not (parsed.op == "is" and parsed.value == "null")
    )


def group_q(group: Group) -> Q:
    """Compile an ``or(...)``/``and(...)`` group."""
    parts = [group_q(i) if isinstance(i, Group) else condition_q(i) for i in group.items]
    return reduce(or_ if group.connector == "or" else and_, parts)
