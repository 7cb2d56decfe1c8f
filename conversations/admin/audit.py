"""The metadata audit trail in the admin: the read-only list of every change, and the
conversation page's audit section (its latest rows, each with a key-by-key diff)."""

from __future__ import annotations

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from conversations.admin.paging import EstimatedCountPaginator
from conversations.domain.ids import prefixed
from conversations.models import MetadataChange

#: Audit rows shown on a conversation's page.
AUDIT_LIMIT = 100


def metadata_diff(before: dict | None, after: dict | None) -> list[tuple[str, str, str]]:
    """What an audited change did, key by key: ``[(sign, key, text)]`` with ``+`` (added),
    ``−`` (removed) or ``~`` (changed: ``"old" → "new"``), in key order."""
    before, after = before or {}, after or {}
    lines = []
    for key in sorted(before.keys() | after.keys()):
        if key not in before:
            lines.append(("+", key, json.dumps(after[key], ensure_ascii=False)))
        elif key not in after:
            lines.append(("−", key, json.dumps(before[key], ensure_ascii=False)))
        elif before[key] != after[key]:
            old, new = (json.dumps(v, ensure_ascii=False) for v in (before[key], after[key]))
            lines.append(("~", key, f"{old} → {new}"))
    return lines


def audit_rows(conversation) -> list[MetadataChange]:
    """The conversation's latest :data:`AUDIT_LIMIT` audit rows, newest first, each with
    ``before_json``, ``after_json`` and ``diff`` (:func:`metadata_diff`) for the page."""
    audit = list(
        MetadataChange.objects.filter(conversation=conversation).order_by("-changed_at", "-id")[
            :AUDIT_LIMIT
        ]
    )
    for change_row in audit:
        change_row.before_json = json.dumps(change_row.before, ensure_ascii=False)
        change_row.after_json = json.dumps(change_row.after, ensure_ascii=False)
        change_row.diff = metadata_diff(change_row.before, change_row.after)
    return audit


@admin.register(MetadataChange)
class MetadataChangeAdmin(admin.ModelAdmin):
    """The audit trail, read-only."""

    list_display = ("changed_at", "conversation_link", "actor_type", "actor", "source", "action")
    list_filter = ("actor_type", "source", "action")
    ordering = ("-id",)  # Insertion order on the primary key index; no sort of the table.
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    raw_id_fields = ("conversation", "api_key", "user")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="conversation", ordering="conversation")
    def conversation_link(self, obj):
        """The conversation's id (``conv_…``), linking to its page."""
        url = reverse("admin:conversations_conversation_change", args=[obj.conversation_id])
        return format_html(
            '<a class="cs-short-id" href="{}">{}</a>', url, prefixed(obj.conversation_id, "conv")
        )
