"""The Telnyx list filters as a django-filter ``FilterSet`` (``GET /ai/conversations``).

Query parameters (``providers/telnyx-agentphone.md`` §A.3; keys arrive URL-encoded and are
decoded by Django):

=====================================  ========================================================
parameter                              operators (``not.`` negates any of them)
=====================================  ========================================================
``id``                                 ``eq``, ``neq``, ``in.(…)``; any accepted id form
``name``                               ``eq``, ``neq``, ``gt``…``lte``, ``like``, ``ilike``,
                                       ``in.(…)``
``created_at``, ``last_message_at``    ``eq``, ``neq``, ``gt``, ``gte``, ``lt``, ``lte``; ISO
                                       8601; a date-only value means midnight UTC, and with
                                       ``eq``/``neq`` the whole day
``metadata->KEY`` / ``metadata->>KEY`` ``eq``, ``neq``, ``like``, ``ilike``, ``in.(…)``,
                                       ``is.null``, ``is.true``, ``is.false``; values compared
                                       as text
``or`` / ``and``                       ``(col.op.val,col.op.val,and(…))``
``order``                              ``col.asc|desc[,…]`` on id, name, created_at,
                                       last_message_at; default ``created_at.desc``
``limit`` / ``offset``                 1–:data:`MAX_LIMIT` (default :data:`MAX_LIMIT`) / ≥ 0
=====================================  ========================================================

``like``/``ilike`` take SQL ``%`` and ``_`` wildcards, ``*`` as PostgREST's alias of ``%`` and
``\\`` to escape. A metadata condition other than ``is.null`` only matches conversations
that hold the key (SQL's NULL semantics), and its ``eq`` is a jsonb containment
(``metadata @> '{"k": "v"}'``) on PostgreSQL, so the GIN index ``conv_metadata_gin_idx``
serves it; ``has_key`` (``?``), also GIN-served, narrows the other operators. Repeated keys
(``created_at=gte.X&created_at=lt.Y``) AND together. Other parameters are ignored, as FastAPI
ignores unknown query parameters. Errors are ``ValidationError``s reported as a 422.
"""

from __future__ import annotations

import datetime as dt
from functools import reduce
from operator import and_, or_

import django_filters
from django import forms
from django.db import connection
from django.db.models import F, Func, Q, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.lookups import Exact, IsNull, Lookup
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from ...ids import parse_id
from ...models import Conversation
from .postgrest import Condition, FilterSyntaxError, Group, parse_expression, parse_logic
from .postgrest import parse_order as parse_order_expression

MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000_000
DATETIME_COLUMNS = ("created_at", "last_message_at")
ORDER_COLUMNS = ("id", "name", "created_at", "last_message_at")
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
    reaches every key.
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
    if _sqlite_path_unsafe(key):
        return SQLiteMetadataValue(key)
    return KeyTextTransform(key, "metadata")


def _metadata_eq(key: str, value: str) -> Q:
    if connection.vendor == "postgresql":
        return Q(metadata__contains={key: value})  # jsonb @>, served by the GIN index
    return Q(Exact(_metadata_value(key), value))


def _metadata_q(cond: Condition, key: str) -> Q:
    if _sqlite_path_unsafe(key):
        has_key = Q(IsNull(SQLiteMetadataValue(key), False))
    else:
        has_key = Q(metadata__has_key=key)
    if cond.op == "is":
        if cond.value == "null":
            return has_key if cond.negate else Q(metadata__isnull=True) | ~has_key
        if cond.value not in ("true", "false"):
            raise FilterSyntaxError(
                f"Invalid 'is' value {cond.value!r}: expected null, true or false."
            )
        positive = _metadata_eq(key, cond.value)
    elif cond.op in ("eq", "neq"):
        positive = _metadata_eq(key, cond.value)
    elif cond.op == "in":
        positive = reduce(or_, (_metadata_eq(key, v) for v in cond.values), Q(pk__in=[]))
    else:
        lookup = Like if cond.op == "like" else ILike
        positive = Q(lookup(_metadata_value(key), _like_pattern(cond.value)))
    negate = cond.negate != (cond.op == "neq")
    return has_key & (~positive if negate else positive)


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


def group_q(group: Group) -> Q:
    """Compile an ``or(...)``/``and(...)`` group."""
    parts = [group_q(i) if isinstance(i, Group) else condition_q(i) for i in group.items]
    return reduce(or_ if group.connector == "or" else and_, parts)


class RepeatedParamWidget(forms.Widget):
    """Read every value of a repeated query parameter (``created_at=gte.X&created_at=lt.Y``)."""

    def value_from_datadict(self, data, files, name):
        if hasattr(data, "getlist"):
            return data.getlist(name)
        return [] if data.get(name) is None else [data[name]]

    def value_omitted_from_data(self, data, files, name):
        return name not in data


class ExpressionField(forms.Field):
    """A form field that turns each raw expression of a parameter into a ``Q``.

    ``parse`` is ``(raw) -> Condition | Group``; the cleaned value is a list of ``Q``.
    """

    widget = RepeatedParamWidget

    def __init__(self, *, parse, **kwargs):
        self.parse = parse
        super().__init__(required=False, **kwargs)

    def to_python(self, value):
        result = []
        for raw in value or []:
            if "\x00" in raw:
                raise FilterSyntaxError("Filter values may not contain the NUL character.")
            parsed = self.parse(raw)
            result.append(group_q(parsed) if isinstance(parsed, Group) else condition_q(parsed))
        return result


class ExpressionFilter(django_filters.Filter):
    """A filter on one column (its ``field_name``) whose values are PostgREST expressions."""

    def __init__(self, *args, connector: str | None = None, **kwargs):
        self.connector = connector
        super().__init__(*args, **kwargs)

    @property
    def field(self):
        if not hasattr(self, "_field"):
            if self.connector:
                self._field = ExpressionField(parse=lambda raw: parse_logic(raw, self.connector))
            else:
                column = self.field_name
                self._field = ExpressionField(parse=lambda raw: parse_expression(column, raw))
        return self._field

    def filter(self, qs, value):
        for q in value or []:
            qs = qs.filter(q)
        return qs


class OrderField(forms.CharField):
    """``order=col.asc,col2.desc`` → a list of ``order_by`` expressions."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return []
        ordering = []
        for column, descending in parse_order_expression(value):
            if column not in ORDER_COLUMNS:
                raise FilterSyntaxError(
                    f"Cannot order by {column!r}: use one of {', '.join(ORDER_COLUMNS)}.",
                    code="filter_column",
                )
            ordering.append(F(column).desc() if descending else F(column).asc())
        return ordering


class OrderFilter(django_filters.Filter):
    field_class = OrderField


class IntegerFilter(django_filters.Filter):
    field_class = forms.IntegerField


class ConversationFilterSet(django_filters.FilterSet):
    """Filters, orders and limits a partition's conversations (see the module docstring).

    Pass the request's ``QueryDict`` as ``data`` and the partition's queryset; check
    :meth:`is_valid` (errors by parameter name in ``errors``) before reading ``qs``.
    """

    id = ExpressionFilter()
    name = ExpressionFilter()
    created_at = ExpressionFilter()
    last_message_at = ExpressionFilter()
    order = OrderFilter(method="skip")
    limit = IntegerFilter(min_value=1, max_value=MAX_LIMIT, method="skip")
    offset = IntegerFilter(min_value=0, max_value=MAX_OFFSET, method="skip")

    class Meta:
        model = Conversation
        fields: list[str] = []

    def __init__(self, data=None, queryset=None, **kwargs):
        super().__init__(data, queryset, **kwargs)
        extra = {name: ExpressionFilter(connector=name) for name in ("or", "and")}
        for name in self.data:
            if name.startswith(METADATA_PREFIXES[1]):
                extra[name] = ExpressionFilter(field_name=name)
        for name, filter_ in extra.items():
            filter_.model, filter_.parent = Conversation, self
            self.filters[name] = filter_

    def skip(self, queryset, name, value):
        """``order``, ``limit`` and ``offset`` are applied last, in :meth:`filter_queryset`."""
        return queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        ordering = data.get("order") or [F("created_at").desc()]
        queryset = queryset.order_by(*ordering, "-pk")
        offset = data.get("offset") or 0
        return queryset[offset : offset + (data.get("limit") or MAX_LIMIT)]
