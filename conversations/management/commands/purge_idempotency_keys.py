"""``python manage.py purge_idempotency_keys [--dry-run]``: delete expired Idempotency-Keys."""

from django.core.management.base import BaseCommand

from conversations.http.idempotency import idempotency_keys_purge


class Command(BaseCommand):
    help = (
        "Delete Idempotency-Key records past their expiry (CONVSTORE_IDEMPOTENCY_TTL_SECONDS, "
        "24 hours by default, after the key's first use)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )

    def handle(self, *args, dry_run, **options):
        count = idempotency_keys_purge(dry_run=dry_run)
        if dry_run:
            self.stdout.write(f"Would delete {count} expired idempotency keys. Nothing deleted.")
        else:
            self.stdout.write(f"Deleted {count} expired idempotency keys.")
