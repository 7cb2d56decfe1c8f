"""The Telnyx list filters as a django-filter ``FilterSet`` (``GET /ai/conversations``).

Query parameters (``docs/contract.md`` §Sources, Telnyx list; keys arrive URL-encoded and are
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

from collections.abc import Iterable

import django_filters
from django import forms
from django.db.models import F

from conversations import selectors
from conversations.formats.telnyx.conditions import (
    METADATA_PREFIXES,
    condition_q,
    group_q,
    metadata_condition_count,
    metadata_index_serves,
)
from conversations.formats.telnyx.postgrest import (
    FilterSyntaxError,
    Group,
    parse_expression,
    parse_logic,
)
from conversations.formats.telnyx.postgrest import parse_order as parse_order_expression
from conversations.models import Conversation

MAX_LIMIT = 1000
#: Metadata conditions one request may hold, over every parameter and group (issue 9): each
#: reads every candidate row's metadata, so their number bounds a list's CPU time.
MAX_METADATA_CONDITIONS = 10
MAX_OFFSET = 1_000_000_000
ORDER_COLUMNS = ("id", "name", "created_at", "last_message_at")


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
    ``spend(n)`` is told how many metadata conditions each expression holds and raises
    :class:`FilterSyntaxError` past the request's budget; ``note(parsed)`` sees each parsed
    expression.
    """

    widget = RepeatedParamWidget

    def __init__(self, *, parse, spend=None, note=None, **kwargs):
        self.parse = parse
        self.spend = spend
        self.note = note
        super().__init__(required=False, **kwargs)

    def to_python(self, value):
        result = []
        for raw in value or []:
            if "\x00" in raw:
                raise FilterSyntaxError("Filter values may not contain the NUL character.")
            parsed = self.parse(raw)
            if self.spend is not None:
                self.spend(metadata_condition_count(parsed))
            if self.note is not None:
                self.note(parsed)
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
            spend = getattr(self.parent, "spend_metadata_conditions", None)
            note = getattr(self.parent, "note_condition", None)
            if self.connector:
                self._field = ExpressionField(
                    parse=lambda raw: parse_logic(raw, self.connector), spend=spend, note=note
                )
            else:
                column = self.field_name
                self._field = ExpressionField(
                    parse=lambda raw: parse_expression(column, raw), spend=spend, note=note
                )
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
    # Labels given: django-filter otherwise derives each from the model on every request.
    order = OrderFilter(method="skip", label="order")
    limit = IntegerFilter(min_value=1, max_value=MAX_LIMIT, method="skip", label="limit")
    offset = IntegerFilter(min_value=0, max_value=MAX_OFFSET, method="skip", label="offset")

    class Meta:
        model = Conversation
        fields: list[str] = []

    def __init__(self, data=None, queryset=None, *, partition=None, **kwargs):
        self.metadata_conditions = 0
        self.conditions = 0
        self.indexed_conditions = 0
        #: The request's :class:`~conversations.selectors.Partition`; with it (and no
        #: ``queryset``) the set filters the partition's conversations and :meth:`page` may
        #: take the index-served read.
        self.partition = partition
        if queryset is None and partition is not None:
            queryset = selectors.conversation_queryset(partition=partition)
        super().__init__(data, queryset, **kwargs)
        extra = {name: ExpressionFilter(connector=name) for name in ("or", "and")}
        for name in self.data:
            if name.startswith(METADATA_PREFIXES[1]):
                extra[name] = ExpressionFilter(field_name=name)
        for name, filter_ in extra.items():
            filter_.model, filter_.parent = Conversation, self
            self.filters[name] = filter_

    def spend_metadata_conditions(self, count: int) -> None:
        """Count ``count`` more metadata conditions; raise :class:`FilterSyntaxError` (a 422
        on the parameter that crosses it) past :data:`MAX_METADATA_CONDITIONS`."""
        self.metadata_conditions += count
        if self.metadata_conditions > MAX_METADATA_CONDITIONS:
            raise FilterSyntaxError(
                f"Too many metadata conditions: at most {MAX_METADATA_CONDITIONS} per request "
                "(over every metadata->KEY parameter and or/and group).",
                code="too_long",
            )

    def note_condition(self, parsed) -> None:
        """Count the expressions, and those the metadata index serves (:meth:`page`)."""
        self.conditions += 1
        self.indexed_conditions += metadata_index_serves(parsed)

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

    def page(self) -> Iterable[Conversation]:
        """The page's conversations, :attr:`qs`'s rows in its order.

        Read as :attr:`qs` (streamed 100 at a time: the response budget may stop reading
        early), except when every filter is one the metadata index serves and the order is
        one time column (the default ``created_at.desc`` included): then
        :func:`~conversations.selectors.conversation_filtered_page` reads them without
        trusting the planner's estimate of how many rows match (issue 10).

        Call after :meth:`is_valid`; the index-served read needs the set built with
        ``partition=``.
        """
        data = self.form.cleaned_data
        ordering = data.get("order") or [F("created_at").desc()]
        partition = self.partition
        column = getattr(ordering[0].expression, "name", None) if len(ordering) == 1 else None
        if (
            partition is None
            or not self.conditions
            or self.indexed_conditions != self.conditions
            or column not in ("created_at", "last_message_at")
        ):
            return self.qs.iterator(chunk_size=100)
        return selectors.conversation_filtered_page(
            partition=partition,
            filtered=super().filter_queryset(self.queryset.all()),
            column=column,
            descending=ordering[0].descending,
            offset=data.get("offset") or 0,
            limit=data.get("limit") or MAX_LIMIT,
        )
