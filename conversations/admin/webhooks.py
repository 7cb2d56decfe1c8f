"""Admin pages for webhooks: endpoints, and events with every attempt.

The signing secret is shown once: in the confirmation after adding an endpoint (typed or
generated) and after the *Rotate signing secret* action; every page shows it masked
(``whsec_…abcd``) and no form edits it. Rotations are audited as Django admin ``LogEntry``
rows ("Rotated the signing secret."), listed in the endpoint's *History*.

Registered by the package's ``__init__``. Writes go through
:mod:`conversations.webhooks.endpoints`.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from conversations.models import WEBHOOK_EVENTS, WebhookAttempt, WebhookEndpoint, WebhookEvent
from conversations.webhooks.endpoints import (
    generate_secret,
    mask_secret,
    webhook_endpoint_rotate_secret,
    webhook_event_retry,
)


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=2000, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=[(name, name) for name in WEBHOOK_EVENTS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked means every event.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "project",
            "url",
            "secret",
            "events",
            "context_limit",
            "is_active",
            "description",
        ]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = [
        "url",
        "project",
        "is_active",
        "context_limit",
        "subscribed",
        "masked_secret",
        "created_at",
    ]
    list_filter = ["is_active", "project"]
    search_fields = ["url", "description"]
    actions = ["rotate_secret"]

    @admin.display(description="events")
    def subscribed(self, obj):
        """The subscribed events, or "all" for an empty list (it means every event)."""
        return ", ".join(obj.events) if obj.events else "all"

    @admin.display(description="signing secret")
    def masked_secret(self, obj):
        return mask_secret(obj.secret)

    def get_fields(self, request, obj=None):
        fields = list(WebhookEndpointForm.Meta.fields)
        if obj is not None:  # after creation the secret is only ever shown masked
            fields[fields.index("secret")] = "masked_secret"
        return fields

    def get_readonly_fields(self, request, obj=None):
        return ["masked_secret"] if obj is not None else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            kwargs["fields"] = [f for f in WebhookEndpointForm.Meta.fields if f != "secret"]
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.secret = obj.secret or generate_secret()
        super().save_model(request, obj, form, change)
        if not change:
            self.message_user(
                request,
                f"Signing secret of {obj.url}: {obj.secret} — copy it now; "
                "it is shown only this once.",
                messages.WARNING,
            )

    @admin.action(description="Rotate signing secret", permissions=["change"])
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            secret = webhook_endpoint_rotate_secret(endpoint=endpoint)
            self.log_change(request, endpoint, "Rotated the signing secret.")
            self.message_user(
                request,
                f"New signing secret of {endpoint.url}: {secret} — copy it now; "
                "it is shown only this once.",
                messages.WARNING,
            )


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ["number", "started_at", "status_code", "latency_ms", "succeeded", "error"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = [
        "event_id",
        "event_type",
        "endpoint_url",
        "status",
        "attempt_count",
        "next_attempt_at",
        "created_at",
    ]
    list_display_links = ["event_id"]
    list_filter = ["status", "event_type"]
    search_fields = ["webhook_id", "endpoint__url"]
    list_select_related = ["endpoint"]
    inlines = [WebhookAttemptInline]
    actions = ["retry_now"]
    readonly_fields = [
        "endpoint",
        "conversation",
        "webhook_id",
        "event_type",
        "pretty_payload",
        "status",
        "attempt_count",
        "next_attempt_at",
        "locked_until",
        "locked_by",
        "created_at",
        "delivered_at",
        "last_error",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        """An event is a record: its page is read-only (no Save buttons); the list's
        *Retry* action is the one thing staff do with events."""
        return False

    @admin.display(description="webhook id", ordering="webhook_id")
    def event_id(self, obj):
        """The ``X-Webhook-ID``, cut by CSS so the list fits 1400 px (whole in the tooltip)."""
        return format_html('<span class="cs-cut cs-mono" title="{0}">{0}</span>', obj.webhook_id)

    @admin.display(description="endpoint", ordering="endpoint__url")
    def endpoint_url(self, obj):
        """The endpoint's URL, cut by CSS (whole in the tooltip)."""
        return format_html('<span class="cs-cut" title="{0}">{0}</span>', obj.endpoint.url)

    @admin.display(description="payload")
    def pretty_payload(self, obj):
        """The envelope as delivered, pretty-printed."""
        text = json.dumps(obj.payload, ensure_ascii=False, indent=2, sort_keys=True)
        return format_html('<pre class="cs-json">{}</pre>', text)

    @admin.action(description="Retry selected events now", permissions=["view"])
    def retry_now(self, request, queryset):
        queued = sum(webhook_event_retry(event=event) for event in queryset)
        self.message_user(request, f"{queued} event(s) queued for delivery.")
