"""Admin pages for webhooks: endpoints (with their secret), and events with every attempt.

Registered from ``ConversationsConfig.ready``. Writes go through
:mod:`conversations.webhooks.endpoints`.
"""

from django import forms
from django.contrib import admin

from ..models import WEBHOOK_EVENTS, WebhookAttempt, WebhookEndpoint, WebhookEvent
from ..webhooks.endpoints import generate_secret, webhook_event_retry


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
    list_display = ["url", "project", "is_active", "context_limit", "events", "created_at"]
    list_filter = ["is_active", "project"]
    search_fields = ["url", "description"]

    def save_model(self, request, obj, form, change):
        if not obj.secret:
            obj.secret = generate_secret()
            self.message_user(request, f"Generated signing secret {obj.secret}")
        super().save_model(request, obj, form, change)


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
        "webhook_id",
        "event_type",
        "endpoint",
        "status",
        "attempt_count",
        "next_attempt_at",
        "created_at",
    ]
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
        "payload",
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

    @admin.action(description="Retry selected events now")
    def retry_now(self, request, queryset):
        queued = sum(webhook_event_retry(event=event) for event in queryset)
        self.message_user(request, f"{queued} event(s) queued for delivery.")
