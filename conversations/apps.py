from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    """The conversations app: the store, its services and its wire formats."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "conversations"
    verbose_name = "Conversations"

    def ready(self):
        # Connect the webhook outbox to the domain events and register its admin pages.
        # conversations.db replaces dropped connections as each request starts.
        from . import admin, db  # noqa: F401
        from .ratelimit import check_settings
        from .webhooks import outbox  # noqa: F401

        check_settings()
