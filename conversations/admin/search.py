"""Finding conversations among a million: the search box and the list filters.

- :func:`search_conversations` turns a search box term into one index-backed lookup.
- The list filters only emit index-friendly ``WHERE`` clauses and run no query to list
  their choices (Django's ``AllValuesFieldListFilter`` would ``SELECT DISTINCT`` the table).
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.contrib import admin
from django.db import connections
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from conversations.domain import clock
from conversations.domain import metadata as rules
from conversations.domain.durations import format_until
from conversations.domain.ids import parse_id
from conversations.services.handoff import handoff_until_alias

SEARCH_HELP = (
    "An id in any form (conv_<32 hex>, 32 hex, dashed UUID); KEY=VALUE for a metadata pair; "
    "or a metadata value, matched exactly (case-sensitive) under any key."
)


def search_conversations(queryset: QuerySet, term: str) -> QuerySet:
    """Filter conversations by the admin search box ``term`` (see :data:`SEARCH_HELP`).

    - An id in any form (:func:`conversations.domain.ids.parse_id`) is looked up by primary key.
    - ``KEY=VALUE`` matches that metadata pair: jsonb containment ``metadata @> {"KEY": "VALUE"}``
      on PostgreSQL, served by the GIN index ``conv_metadata_gin_idx``.
    - Anything else matches conversations with a metadata value equal to the term under any
      key: ``metadata @? '$.* ? (@ == "term")'`` on PostgreSQL, also served by the GIN index.

    On SQLite (development) both metadata matches scan with ``json_each``.
    """
    term = term.strip()
    if not term:
        return queryset
    if "\x00" in term:  # No stored key or value holds NUL (metadata rules).
        return queryset.none()
    pk = parse_id(term)
    if pk is not None:
        return queryset.filter(pk=pk)
    table = queryset.model._meta.db_table
    if connections[queryset.db].vendor == "postgresql":
        if "=" in term:
            key, value = term.split("=", 1)
            return queryset.filter(metadata__contains={key: value})
        params = [f"$.* ? (@ == {json.dumps(term, ensure_ascii=False)})"]
        sql = f'"{table}"."metadata" @? %s::jsonpath'
    else:
        sql = (
            f'EXISTS (SELECT 1 FROM json_each("{table}"."metadata") AS pair '
            "WHERE pair.type = 'text' AND pair.value = %s"
        )
        if "=" in term:
            key, value = term.split("=", 1)
            sql += " AND pair.key = %s"
            params = [value, key]
        else:
            params = [term]
        sql += ")"
    return queryset.filter(RawSQL(sql, params, output_field=BooleanField()))


# --- list filters -----------------------------------------------------------------------------


class AiSwitchFilter(admin.SimpleListFilter):
    """AI on / off as readers see it now (a timed handoff whose time has passed is on), and
    the timed handoffs: on the indexed ``ai_disabled`` column, then ``ai_disabled_until``
    compared as text (:func:`conversations.services.handoff.handoff_until_alias`)."""

    title = "AI switch"
    parameter_name = "ai"

    def lookups(self, request, model_admin):
        return [
            ("off", "AI off"),
            ("on", "AI on"),
            ("timed", "AI off (timed)"),
            ("forever", "AI off (until turned on)"),
            ("soon", "resumes within 1 h"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value not in ("off", "on", "timed", "forever", "soon"):
            return queryset
        now = clock.now()
        stamp = format_until(now)
        queryset = handoff_until_alias(queryset)
        still_off = Q(ai_disabled=True) & (
            Q(handoff_until__isnull=True) | Q(handoff_until__gt=stamp)
        )
        if value == "off":
            return queryset.filter(still_off)
        if value == "on":
            return queryset.exclude(still_off)
        if value == "forever":
            return queryset.filter(ai_disabled=True, handoff_until__isnull=True)
        if value == "timed":
            return queryset.filter(ai_disabled=True, handoff_until__gt=stamp)
        hour = format_until(now + timedelta(hours=1))
        return queryset.filter(ai_disabled=True, handoff_until__gt=stamp, handoff_until__lte=hour)


class ChannelFilter(admin.SimpleListFilter):
    """The conversation's channel, from a fixed list (no ``SELECT DISTINCT`` over the table)."""

    title = "channel"
    parameter_name = "channel"
    CHANNELS = ["sms", "mms", "imessage", "whatsapp", "voice", "web_chat", "phone_call"]

    def lookups(self, request, model_admin):
        return [*((c, c) for c in self.CHANNELS), ("-", "none")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "-":
            return queryset.filter(channel="")
        if value:
            return queryset.filter(channel=value)
        return queryset


class LastActivityFilter(admin.SimpleListFilter):
    """Recent or idle conversations by ``last_message_at`` (index ``conv_activity_idx``)."""

    title = "last activity"
    parameter_name = "activity"
    RECENT = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
    IDLE = {"idle30": timedelta(days=30), "idle90": timedelta(days=90)}

    def lookups(self, request, model_admin):
        return [
            ("24h", "Past 24 hours"),
            ("7d", "Past 7 days"),
            ("30d", "Past 30 days"),
            ("idle30", "Idle over 30 days"),
            ("idle90", "Idle over 90 days"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        value = self.value()
        if value in self.RECENT:
            return queryset.filter(last_message_at__gte=now - self.RECENT[value])
        if value in self.IDLE:
            return queryset.filter(last_message_at__lt=now - self.IDLE[value])
        return queryset


class MetadataKeyFilter(admin.ListFilter):
    """Conversations whose metadata has a key (``?`` on PostgreSQL, GIN-indexed).

    Offers the reserved keys as links and a text box for any other key
    (``?has_key=customer_name``).
    """

    title = "metadata key present"
    parameter_name = "has_key"
    template = "admin/conversations/metadata_key_filter.html"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        value = params.pop(self.parameter_name, None)
        if isinstance(value, list):  # Django 5 passes lists of values.
            value = value[-1] if value else None
        self.value = value or None

    def has_output(self):
        return True

    def expected_parameters(self):
        return [self.parameter_name]

    def queryset(self, request, queryset):
        if self.value:
            return queryset.filter(metadata__has_key=self.value)
        return queryset

    def choices(self, changelist):
        # Keep the other filters and the search when the key box is submitted.
        self.other_params = []
        for name, values in changelist.params.items():
            if name in (self.parameter_name, "p"):
                continue
            for value in values if isinstance(values, list) else [values]:
                self.other_params.append((name, value))
        yield {
            "selected": self.value is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "All",
        }
        for key in rules.RESERVED_KEYS:
            yield {
                "selected": self.value == key,
                "query_string": changelist.get_query_string({self.parameter_name: key}),
                "display": key,
            }
