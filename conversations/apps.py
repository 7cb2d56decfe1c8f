from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    """The conversations app: the store, its services and its wire formats."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "conversations"
    verbose_name = "Conversations"
