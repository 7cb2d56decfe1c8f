"""Building blocks of the conversation admin that stay fast at a million rows.

- :class:`EstimatedCountPaginator` never runs ``COUNT(*)`` over the whole table.
- :func:`search_conversations` turns a search box term into one index-backed lookup.
- The list filters only emit index-friendly ``WHERE`` clauses and run no query to list
  their choices (Django's ``AllValuesFieldListFilter`` would ``SELECT DISTINCT`` the table).
- :class:`MetadataRowFormSet` edits metadata as key/value rows, checked by
  :func:`conversations.domain.metadata.validate_metadata` with each error shown on its row.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.forms.formsets import DELETION_FIELD_NAME
from django.utils import timezone
from django.utils.functional import cached_property

from conversations import services
from conversations.domain import clock, handoff
from conversations.domain import metadata as rules
from conversations.domain.conditional import EntityTags, PreconditionFailed
from conversations.domain.ids import parse_id
from conversations.models import ApiKey, Conversation
from conversations.services.handoff import handoff_until_alias

#: Largest exact count the admin runs; past it the list says "10000" and offers narrower filters.
COUNT_CAP = 10_000


class EstimatedCountPaginator(Paginator):
    """A paginator whose ``count`` is cheap on any table size.

    - Unfiltered on PostgreSQL: the planner's estimate ``pg_class.reltuples`` (kept fresh by
      autovacuum), when it is above :data:`COUNT_CAP`.
    - Otherwise: an exact count capped at :data:`COUNT_CAP` rows
      (``SELECT COUNT(*) FROM (… LIMIT 10000)``), so a broad filter reads at most that many
      index entries.

    Page links past the cap or the estimate may come up empty; staff narrow the list instead.
    """

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if isinstance(queryset, QuerySet) and not queryset.query.where:
            estimate = _estimated_rows(queryset)
            if estimate is not None and estimate > COUNT_CAP:
                return estimate
        if isinstance(queryset, QuerySet):
            return queryset.order_by()[:COUNT_CAP].count()
        return super().count


#: Primary keys read per query by :func:`pks_in_chunks`.
PK_CHUNK = 500


def pks_in_chunks(queryset: QuerySet, chunk: int | None = None):
    """Yield the primary keys of ``queryset`` in key order, ``chunk`` (default
    :data:`PK_CHUNK`) per query (keyset pages: ``pk > last``).

    Memory stays one chunk whatever the selection, with no server-side cursor: one declared
    outside a transaction (``iterator()``) lives on one server connection, and behind a
    transaction-pooling PgBouncer the next ``FETCH`` may reach another (``cursor does not
    exist``). Each page is its own statement, so the caller's writes between pages run in
    their own transactions. A row added behind the last key read is not visited.
    """
    chunk = chunk or PK_CHUNK
    pks = queryset.order_by("pk").values_list("pk", flat=True)
    last = None
    while True:
        page = list((pks if last is None else pks.filter(pk__gt=last))[:chunk])
        yield from page
        if len(page) < chunk:
            return
        last = page[-1]


def _estimated_rows(queryset: QuerySet) -> int | None:
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [queryset.model._meta.db_table],
        )
        row = cursor.fetchone()
    # reltuples is -1 (PostgreSQL 14+) or 0 before the table's first ANALYZE.
    return int(row[0]) if row and row[0] and row[0] > 0 else None


def count_noun(number: int, noun: str = "conversation") -> str:
    """``1 conversation``, ``3 conversations``: for admin messages."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


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
        stamp = rules.format_until(now)
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
        hour = rules.format_until(now + timedelta(hours=1))
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


# --- metadata as key/value rows ---------------------------------------------------------------


class MetadataRowForm(forms.Form):
    """One metadata pair. Lengths are left to the metadata rules, so errors read the same as
    the API's and an over-long key is reported on its row, not cut by the browser."""

    key = forms.CharField(required=False, strip=False, widget=forms.TextInput(attrs={"size": 30}))
    value = forms.CharField(required=False, strip=False, widget=forms.TextInput(attrs={"size": 60}))


class BaseMetadataRowFormSet(forms.BaseFormSet):
    """Rows → one metadata object, validated by
    :func:`conversations.domain.metadata.validate_metadata`.

    Empty rows and rows marked for deletion are skipped. After :meth:`is_valid`, ``metadata``
    holds the cleaned object. A rule broken by one pair is reported on that pair's row
    (``MetadataError.params["key"]``); a rule about the whole object (more than 16 pairs) as a
    formset error.
    """

    metadata: dict[str, str] | None = None

    @staticmethod
    def initial_rows(metadata: dict | None) -> list[dict[str, str]]:
        return [{"key": k, "value": v} for k, v in (metadata or {}).items()]

    def clean(self):
        if any(self.errors):
            return
        rows: dict[str, forms.Form] = {}
        pairs: dict[str, str] = {}
        for form in self.forms:
            if self.can_delete and form.cleaned_data.get(DELETION_FIELD_NAME, False):
                continue
            key = form.cleaned_data.get("key", "")
            value = form.cleaned_data.get("value", "")
            if key == "" and value == "":
                continue
            if key in rows:
                form.add_error("key", f"Duplicate key '{key}': each key may appear once.")
                continue
            rows[key] = form
            pairs[key] = value
        if any(self.errors):
            return
        try:
            self.metadata = rules.validate_metadata(pairs)
        except rules.MetadataError as exc:
            # exc.message is already worded; avoid %-interpolating user text with params.
            message = str(exc.message)
            key = exc.params.get("key")
            if exc.code == "nul_character" and key is None:
                key = next((k for k in rows if "\x00" in k), None)
            form = rows.get(key) if key is not None else None
            if form is None:
                raise forms.ValidationError(message, code=exc.code) from exc
            on_key = exc.code in ("key_too_short", "key_too_long") or (
                exc.code == "nul_character" and "\x00" in key
            )
            form.add_error("key" if on_key else "value", message)


MetadataRowFormSet = forms.formset_factory(
    MetadataRowForm,
    formset=BaseMetadataRowFormSet,
    extra=3,
    can_delete=True,
    max_num=rules.MAX_PAIRS + 8,
)


class ConversationAdminForm(forms.ModelForm):
    """The conversation change form: ``name`` plus the metadata rows (prefix ``meta``).

    The form is invalid while any metadata row is, so the admin saves nothing at all. It is
    also invalid when the conversation changed after the page was loaded (an API client wrote
    meanwhile): saving would silently undo that write, so staff reload instead. The page
    carries the :attr:`Conversation.version` it showed (``loaded_version``); ``clean`` locks
    the row with that version as the precondition (the same ``If-Match`` check the API runs,
    :mod:`conversations.domain.conditional`), and the lock holds until the admin's save commits
    (``changeform_view`` runs in one transaction).
    """

    loaded_version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    class Meta:
        model = Conversation
        fields = ("name",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["loaded_version"].initial = self.instance.version
        self.metadata_rows = MetadataRowFormSet(
            data=self.data if self.is_bound else None,
            initial=BaseMetadataRowFormSet.initial_rows(handoff.effective_metadata(self.instance)),
            prefix="meta",
        )

    def clean(self):
        cleaned = super().clean()
        if not self.metadata_rows.is_valid():
            raise forms.ValidationError(
                "The metadata was not saved: correct the rows marked below.", code="metadata"
            )
        loaded = cleaned.get("loaded_version")
        if loaded and self.instance.pk is not None:
            try:
                services.conversation_lock(
                    conversation=self.instance.pk,
                    if_match=EntityTags.for_version(self.instance.pk, loaded),
                )
            except (PreconditionFailed, Conversation.DoesNotExist):
                raise forms.ValidationError(
                    "The conversation changed since this page was opened (its metadata, name or "
                    "messages, by someone else or through the API). Nothing was saved: reload "
                    "the page and edit again.",
                    code="conflict",
                ) from None
        return cleaned

    def has_changed(self):
        return super().has_changed() or self.metadata_rows.has_changed()


class ApiKeyAddForm(forms.ModelForm):
    """Create a key: project and label only; the key itself comes from ``api_key_create``."""

    class Meta:
        model = ApiKey
        fields = ("project", "name")


def lockout_notice(request) -> str:
    """What the login page says about django-axes' lockout (``AXES_FAILURE_LIMIT`` failed
    attempts from one address lock it out for ``AXES_COOLOFF_TIME``): the rule before any
    failure, then how many attempts are left."""
    from axes.handlers.proxy import AxesProxyHandler

    limit = settings.AXES_FAILURE_LIMIT
    cooloff = settings.AXES_COOLOFF_TIME
    minutes = int(cooloff.total_seconds() // 60) if cooloff else 0
    span = f"{minutes // 60} h" if minutes and minutes % 60 == 0 else f"{minutes} min"
    failures = AxesProxyHandler.get_failures(request) if request.method == "POST" else 0
    left = max(limit - failures, 0)
    if failures == 0:
        return f"After {limit} failed sign-ins from this address, sign-in is locked for {span}."
    attempt = "attempt" if left == 1 else "attempts"
    return f"{left} {attempt} left before sign-in from this address is locked for {span}."
