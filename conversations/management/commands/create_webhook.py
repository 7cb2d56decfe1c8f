"""``python manage.py create_webhook --project NAME --url URL [--secret S] [--events …]``."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from conversations.management.projects import project_by_name
from conversations.models import WEBHOOK_EVENTS
from conversations.webhooks.endpoints import webhook_endpoint_create


class Command(BaseCommand):
    help = "Register a webhook endpoint for a project; prints its signing secret on the last line."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="Name of an existing project.")
        parser.add_argument("--url", required=True, help="Where events are POSTed.")
        parser.add_argument("--secret", default="", help="Signing secret (generated if blank).")
        parser.add_argument(
            "--events",
            nargs="+",
            choices=WEBHOOK_EVENTS,
            default=[],
            help="Events to send (default: all).",
        )
        parser.add_argument(
            "--context-limit", type=int, default=10, help="recentHistory length, 0–50."
        )
        parser.add_argument("--inactive", action="store_true", help="Register it switched off.")
        parser.add_argument("--description", default="", help="A note shown in the admin.")

    def handle(self, *args, **options):
        project = project_by_name(options["project"])
        try:
            endpoint = webhook_endpoint_create(
                project=project,
                url=options["url"],
                secret=options["secret"],
                events=options["events"],
                context_limit=options["context_limit"],
                is_active=not options["inactive"],
                description=options["description"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stderr.write(
            f"Registered webhook {endpoint.pk} → {endpoint.url} for project '{project.name}' "
            f"(events: {', '.join(endpoint.events) or 'all'})."
        )
        self.stdout.write(endpoint.secret)
