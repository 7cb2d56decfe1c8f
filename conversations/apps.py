from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    """The conversations app: the store, its services and its wire formats."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "conversations"
    verbose_name = "Conversations"

    def ready(self):
        # Connect the webhook outbox to the domain events and register its admin pages.
        # conversations.database.guards replaces dropped connections as each request starts.
        from conversations.database import guards  # noqa: F401
        from conversations.http.ratelimit import check_settings
        from conversations.webhooks import outbox  # noqa: F401

        check_settings()
