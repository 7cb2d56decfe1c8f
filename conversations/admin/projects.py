"""Projects and API keys in the admin: create a key (shown once), revoke, see last use."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from conversations import services
from conversations.admin.forms import ApiKeyAddForm
from conversations.admin.paging import count_noun
from conversations.models import ApiKey, Project


class ApiKeyInline(admin.TabularInline):
    """A project's keys, read-only (create and revoke them on the API keys page)."""

    model = ApiKey
    fields = ("prefix", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
    inlines = (ApiKeyInline,)


class KeyStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", "active"), ("revoked", "revoked")]

    def queryset(self, request, queryset):
        if self.value() in ("active", "revoked"):
            return queryset.filter(revoked_at__isnull=self.value() == "active")
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Create a key (the raw key is shown once), revoke keys, see when each was last used."""

    list_display = ("prefix", "name", "project", "created_at", "last_used", "status")
    list_select_related = ("project",)
    list_filter = ("project", KeyStatusFilter)
    search_fields = ("prefix", "name")
    actions = ("revoke_keys",)
    readonly_fields = ("prefix", "project", "created_at", "last_used_at", "revoked_at")

    @admin.display(description="last used", ordering="last_used_at")
    def last_used(self, obj):
        """When the key last authenticated, or "never" (as ``list_api_keys`` prints)."""
        return obj.last_used_at or "never"

    @admin.display(description="status")
    def status(self, obj):
        state = "active" if obj.is_active else "revoked"
        return format_html('<span class="status-badge {}">{}</span>', state, state)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            notice = (
                "The new key is shown only once, right after you save: copy it then. "
                "convstore keeps only its digest."
            )
            return ((None, {"fields": ("project", "name"), "description": notice}),)
        return super().get_fieldsets(request, obj)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/revoke/",
                self.admin_site.admin_view(self.revoke_view),
                name="conversations_apikey_revoke",
            ),
            *super().get_urls(),
        ]

    def revoke_view(self, request, object_id):
        """POST ``…/<id>/revoke/``: the *Revoke* button on a key's page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        key = self.get_object(request, unquote(object_id))
        if key is None:
            raise Http404("API key not found.")
        if not self.has_change_permission(request, key):
            raise PermissionDenied
        if services.api_key_revoke(api_key=key):
            self.message_user(request, f"Revoked API key {key.prefix}….", messages.SUCCESS)
        else:
            self.message_user(request, f"API key {key.prefix}… was already revoked.")
        return HttpResponseRedirect(reverse("admin:conversations_apikey_change", args=[key.pk]))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.is_active:
            context["revoke_url"] = reverse("admin:conversations_apikey_revoke", args=[obj.pk])
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("project", "name")
        return ("prefix", "name", "project", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        created, raw_key = services.api_key_create(
            project=form.cleaned_data["project"], name=form.cleaned_data["name"]
        )
        for field in ("id", "prefix", "key_hash", "created_at", "project_id", "name"):
            setattr(obj, field, getattr(created, field))
        obj._state.adding = False
        self.message_user(
            request,
            format_html(
                "New API key for project '{}': "
                '<code class="cs-secret" id="new-api-key">{}</code> '
                '<button type="button" class="button cs-copy" data-copy="new-api-key">Copy</button>'
                " — copy it now; it is shown only this once.",
                created.project,
                raw_key,
            ),
            messages.WARNING,
        )

    @admin.action(description="Revoke the selected API keys")
    def revoke_keys(self, request, queryset):
        revoked = sum(services.api_key_revoke(api_key=key) for key in queryset)
        text = f"Revoked {count_noun(revoked, 'API key')}"
        already = queryset.count() - revoked
        if already:
            text += f"; {already} {'was' if already == 1 else 'were'} already revoked"
        self.message_user(request, text + ".", messages.SUCCESS)
