"""``python manage.py revoke_api_key KEY``: revoke an API key by its start, id or the key itself."""

from django.core.management.base import BaseCommand, CommandError

from conversations.selectors import api_key_find
from conversations.services import api_key_revoke


class Command(BaseCommand):
    help = (
        "Revoke one API key, named by its prefix (e.g. cs_1a2b3c4d5), any longer start of the "
        "key, its id or the key itself."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "key", help="Key prefix (as list_api_keys shows it) or longer start, numeric id or key."
        )

    def handle(self, *args, key, **options):
        matches = api_key_find(reference=key)
        if not matches:
            raise CommandError(
                f"No API key matches '{key}': give its prefix or id as list_api_keys shows "
                "them, or the whole key. See: manage.py list_api_keys"
            )
        if len(matches) > 1:
            listed = ", ".join(f"{k.prefix}… (id {k.pk})" for k in matches)
            raise CommandError(f"'{key}' matches {len(matches)} keys: {listed}. Be more specific.")
        api_key = matches[0]
        if api_key_revoke(api_key=api_key):
            self.stdout.write(
                f"Revoked API key {api_key.prefix}… (id {api_key.pk}) of '{api_key.project}'."
            )
        else:
            self.stdout.write(f"API key {api_key.prefix}… (id {api_key.pk}) was already revoked.")
