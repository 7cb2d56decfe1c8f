"""``python manage.py list_api_keys [--project NAME]``: the keys, their use and status."""

from django.core.management.base import BaseCommand

from conversations.management.projects import project_by_name
from conversations.management.tables import write_table
from conversations.selectors import api_key_list


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"


class Command(BaseCommand):
    help = "List API keys (prefix, id, project, name, created, last used, status); never the keys."

    def add_arguments(self, parser):
        parser.add_argument("--project", help="Only this project's keys.")

    def handle(self, *args, project, **options):
        if project is not None:
            project_by_name(project)
        rows = [
            (
                f"{k.prefix}…",
                str(k.pk),
                k.project.name,
                k.name,
                _when(k.created_at),
                _when(k.last_used_at),
                "active" if k.is_active else f"revoked {_when(k.revoked_at)}",
            )
            for k in api_key_list(project_name=project)
        ]
        header = ("PREFIX", "ID", "PROJECT", "NAME", "CREATED", "LAST USED", "STATUS")
        write_table(self.stdout, header, rows)
        if not rows:
            self.stderr.write(
                "No API keys. Create one with: manage.py create_api_key --project NAME"
            )
