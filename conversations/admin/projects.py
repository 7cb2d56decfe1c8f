"""Projects and API keys in the admin: create a key (shown once), revoke, see last use."""

from django.contrib import admin, messages
from django.utils.html import format_html

from .. import services
from ..models import ApiKey, Project
from .support import ApiKeyAddForm, count_noun


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

    list_display = ("prefix", "name", "project", "created_at", "last_used_at", "status")
    list_select_related = ("project",)
    list_filter = ("project", KeyStatusFilter)
    search_fields = ("prefix", "name")
    actions = ("revoke_keys",)
    readonly_fields = ("prefix", "project", "created_at", "last_used_at", "revoked_at")

    @admin.display(description="status")
    def status(self, obj):
        state = "active" if obj.is_active else "revoked"
        return format_html('<span class="status-badge {}">{}</span>', state, state)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, change=change, **kwargs)

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
            f"New API key for project '{created.project}': {raw_key} — copy it now; "
            "it is shown only this once.",
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
