"""``python manage.py list_webhooks [--project NAME]``: the webhook endpoints, secrets masked."""

from django.core.management.base import BaseCommand

from conversations.management.projects import project_by_name
from conversations.management.tables import write_table
from conversations.webhooks.endpoints import mask_secret, webhook_endpoint_list


class Command(BaseCommand):
    help = "List webhook endpoints (id, project, URL, events, status, secret masked)."

    def add_arguments(self, parser):
        parser.add_argument("--project", help="Only this project's endpoints.")

    def handle(self, *args, project, **options):
        scope = project_by_name(project) if project is not None else None
        rows = [
            (
                str(e.pk),
                e.project.name,
                e.url,
                ",".join(e.events) or "all",
                "active" if e.is_active else "inactive",
                mask_secret(e.secret),
                e.description,
            )
            for e in webhook_endpoint_list(project=scope)
        ]
        header = ("ID", "PROJECT", "URL", "EVENTS", "STATUS", "SECRET", "DESCRIPTION")
        write_table(self.stdout, header, rows)
        if not rows:
            self.stderr.write(
                "No webhook endpoints. Register one with: "
                "manage.py create_webhook --project NAME --url URL"
            )
