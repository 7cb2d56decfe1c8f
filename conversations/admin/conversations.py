"""The conversation admin: the list (columns, search, filters) and the conversation's page
(name, metadata rows, thread, audit trail, AI switch).

Every write goes through :mod:`conversations.services` with ``Actor.for_staff(user)``, so the
admin obeys the same metadata rules and writes the same audit trail as the API. The list is
built for a million conversations: see :mod:`conversations.admin.paging` and
:mod:`conversations.admin.search`. The AI switch's column, view and actions are
:mod:`conversations.admin.ai_switch`; the audit trail's pages :mod:`conversations.admin.audit`.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime

from conversations import selectors, services
from conversations.admin.ai_switch import AiSwitchAdmin
from conversations.admin.audit import AUDIT_LIMIT, audit_rows
from conversations.admin.forms import ConversationAdminForm
from conversations.admin.handoff import AI_OFF_CHOICES, ai_badge, ai_is_off, handoff_until_text
from conversations.admin.item_summary import item_summary
from conversations.admin.paging import EstimatedCountPaginator
from conversations.admin.search import (
    SEARCH_HELP,
    AiSwitchFilter,
    ChannelFilter,
    LastActivityFilter,
    MetadataKeyFilter,
    search_conversations,
)
from conversations.domain import handoff
from conversations.domain import metadata as rules
from conversations.domain.ids import prefixed
from conversations.domain.metadata import RESERVED_KEYS
from conversations.models import Conversation, MetadataChange

THREAD_LIMIT = 200
#: Metadata pairs shown per row of the list.
SUMMARY_PAIRS = 6


def admin_time(value):
    """A time in the admin's one format (``2026-11-25 15:07:29 UTC``, convstore/formats),
    the date above the time so list columns stay narrow."""
    if value is None:
        return "—"
    day, _, clock = date_format(localtime(value), "DATETIME_FORMAT").partition(" ")
    return format_html(
        '<span class="cs-day">{}</span> <span class="cs-clock">{}</span>', day, clock
    )


#: Telephony context: set by the formats that know it, shown read-only to staff.
CHANNEL_FIELDS = (
    "channel",
    "agent_id",
    "phone_number_id",
    "phone_number",
    "participant",
    "is_group",
    "group_name",
)


@admin.register(Conversation)
class ConversationAdmin(AiSwitchAdmin, admin.ModelAdmin):
    """Support staff's daily tool: find a conversation, flip its AI switch, fix its metadata."""

    form = ConversationAdminForm
    list_display = (
        "conversation_id",
        "project",
        "created",
        "last_activity",
        "ai_switch",
        "metadata_summary",
    )
    list_select_related = ("project",)
    list_filter = ("project", AiSwitchFilter, ChannelFilter, MetadataKeyFilter, LastActivityFilter)
    search_fields = ("id",)  # Shows the search box; get_search_results does the matching.
    search_help_text = SEARCH_HELP
    ordering = ("-last_message_at",)
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # Facet counts would COUNT the table per choice.
    list_per_page = 100
    actions = ("turn_ai_off", "turn_ai_on")  # AiSwitchAdmin
    # The page's header shows the id and the AI state; the first fieldset sits above the
    # metadata rows, the others below them (change_form.html).
    fieldsets = (
        (None, {"fields": ("project", "isolation", "name")}),
        (
            "Activity",
            {"fields": (("created_at", "last_message_at"), ("updated_at", "message_count"))},
        ),
        (
            "Channel",
            {
                "classes": ("collapse",),
                "fields": CHANNEL_FIELDS,
            },
        ),
    )
    readonly_fields = (
        "conversation_id",
        "project",
        "isolation",
        "ai_state",
        "created_at",
        "last_message_at",
        "updated_at",
        "message_count",
        *CHANNEL_FIELDS,
    )

    # --- list -------------------------------------------------------------------------------

    @admin.display(description="id", ordering="pk")
    def conversation_id(self, obj):
        """The full ``conv_`` id, cut with an ellipsis by CSS only: hovering shows it and
        copying the text copies all of it."""
        label = prefixed(obj.pk, "conv")
        return format_html('<span class="cs-short-id" title="{}">{}</span>', label, label)

    @admin.display(description="created", ordering="created_at")
    def created(self, obj):
        return admin_time(obj.created_at)

    @admin.display(description="last activity", ordering="last_message_at")
    def last_activity(self, obj):
        return admin_time(obj.last_message_at)

    def get_queryset(self, request):
        """Rows with ``handoff_by``: who last switched the AI off or re-timed it (the newest
        ``ai_switch`` audit row not by the system), for the badge's tooltip and the page."""
        who = MetadataChange.objects.filter(
            conversation=OuterRef("pk"), action=MetadataChange.Action.AI_SWITCH
        ).exclude(actor_type=MetadataChange.ActorType.SYSTEM)
        return (
            super()
            .get_queryset(request)
            .annotate(handoff_by=Subquery(who.order_by("-changed_at", "-id").values("actor")[:1]))
        )

    @admin.display(description="isolation key")
    def isolation(self, obj):
        """The isolation key, or "none" (the word the page's header uses)."""
        return obj.isolation_key or "none"

    @admin.display(description="AI switch")
    def ai_state(self, obj):
        return ai_badge(obj, hint=True)

    @admin.display(description="metadata")
    def metadata_summary(self, obj):
        """Up to six pairs as ``key value`` chips on one line (the row stays one line; the
        rest is cut, each pair in full in its tooltip); long values cut at 60 characters;
        empty and cleared (``null``) metadata both read "—"."""
        items = list((handoff.effective_metadata(obj) or {}).items())
        if not items:
            return mark_safe('<span class="md-empty" title="no metadata">—</span>')  # noqa: S308 - a constant
        chips = format_html_join(
            "",
            '<span class="md-pair{}" title="{}={}"><span class="md-key">{}</span>'
            '<span class="md-value">{}</span></span>',
            (
                (
                    " md-reserved" if k in RESERVED_KEYS else "",
                    k,
                    v,
                    k,
                    v if len(v) <= 60 else v[:59] + "…",
                )
                for k, v in items[:SUMMARY_PAIRS]
            ),
        )
        more = ""
        if len(items) > SUMMARY_PAIRS:
            more = format_html('<span class="md-more">+{} more</span>', len(items) - SUMMARY_PAIRS)
        return format_html('<div class="md-pairs">{}{}</div>', chips, more)

    def changelist_view(self, request, extra_context=None):
        """The list, titled for what it is rather than Django's "Select … to change"."""
        return super().changelist_view(request, {"title": "Conversations", **(extra_context or {})})

    def get_search_results(self, request, queryset, search_term):
        return search_conversations(queryset, search_term), False

    def has_add_permission(self, request):
        return False  # Conversations come from the API formats.

    # --- change page: metadata rows, thread, audit -------------------------------------------

    def save_model(self, request, obj, form, change):
        """Write through the services: name with update_fields, metadata by replace."""
        if "name" in form.changed_data:
            services.conversation_update_fields(conversation=obj, name=obj.name)
        new = form.metadata_rows.metadata
        stored = Conversation.objects.values_list("metadata", flat=True).get(pk=obj.pk)
        if new != stored and not (stored is None and not new):  # A cleared object stays null.
            services.conversation_metadata_replace(
                conversation=obj, metadata=new, actor=services.Actor.for_staff(request.user)
            )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            # The latest THREAD_LIMIT messages, fewer if they would pass the response budget.
            newest, more = selectors.message_cursor_page(
                conversation=obj, after=None, limit=THREAD_LIMIT, descending=True
            )
            audit = audit_rows(obj)
            for message in newest:
                message.shown_at = message.sent_at or message.created_at
                message.summary = item_summary(message)
                message.bubble_side = (
                    "system"
                    if message.role in ("system", "developer", "tool")
                    or message.item_type != "message"
                    else "outbound"
                    if message.direction == "outbound" or message.role == "assistant"
                    else "inbound"
                )
            context.update(
                conversation_label=prefixed(obj.pk, "conv"),
                thread=newest[::-1],
                thread_limited=more,
                audit=audit,
                audit_limit=AUDIT_LIMIT,
                metadata_rows=context["adminform"].form.metadata_rows,
                reserved_keys=RESERVED_KEYS.items(),
                ai_off=ai_is_off(obj),
                ai_off_choices=AI_OFF_CHOICES,
                handoff_until=handoff_until_text(obj),
                handoff_reason=(obj.metadata or {}).get(rules.AI_DISABLED_REASON_KEY, ""),
                handoff_by=getattr(obj, "handoff_by", None),
                ai_switch_url=reverse(
                    "admin:conversations_conversation_ai",
                    args=[obj.pk, "on" if ai_is_off(obj) else "off"],
                ),
            )
        return super().render_change_form(request, context, add, change, form_url, obj)
