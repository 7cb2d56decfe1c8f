"""``python manage.py purge --days N [--dry-run]``: delete long-idle conversations."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from conversations.management.projects import project_by_name
from conversations.selectors import conversation_idle_queryset
from conversations.services import conversations_purge


class Command(BaseCommand):
    help = (
        "Delete conversations (with their messages and audit rows) idle for more than N days, "
        "judged by their last activity."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, required=True, help="Idle for more than this many days (≥ 1)."
        )
        parser.add_argument("--project", help="Only this project's conversations.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )

    def handle(self, *args, days, project, dry_run, **options):
        if days < 1:
            raise CommandError("--days must be at least 1.")
        project_obj = None if project is None else project_by_name(project)
        cutoff = timezone.now() - timedelta(days=days)
        scope = f"idle more than {days} days (last activity before {cutoff:%Y-%m-%d %H:%M} UTC)"
        if dry_run:
            count = conversation_idle_queryset(idle_before=cutoff, project=project_obj).count()
            self.stdout.write(f"Would delete {count} conversations {scope}. Nothing deleted.")
            return
        count = conversations_purge(idle_before=cutoff, project=project_obj)
        self.stdout.write(f"Deleted {count} conversations {scope}.")
