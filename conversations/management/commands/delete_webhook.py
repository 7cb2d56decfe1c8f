"""``python manage.py delete_webhook ID [--dry-run]``: remove a webhook endpoint."""

from django.core.management.base import BaseCommand, CommandError

from conversations.models import WebhookEndpoint
from conversations.webhooks.endpoints import webhook_endpoint_delete


class Command(BaseCommand):
    help = "Delete a webhook endpoint (as list_webhooks shows its id); its unsent events go too."

    def add_arguments(self, parser):
        parser.add_argument("id", type=int, help="Endpoint id, as list_webhooks shows it.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be deleted; delete nothing."
        )

    def handle(self, *args, id, dry_run, **options):
        try:
            endpoint = WebhookEndpoint.objects.select_related("project").get(pk=id)
        except WebhookEndpoint.DoesNotExist:
            raise CommandError(
                f"No webhook endpoint with id {id}. See: manage.py list_webhooks"
            ) from None
        described = f"webhook {endpoint.pk} → {endpoint.url} of project '{endpoint.project.name}'"
        if dry_run:
            self.stdout.write(f"Would delete {described}.")
            return
        undelivered = webhook_endpoint_delete(endpoint=endpoint)
        self.stdout.write(f"Deleted {described} ({undelivered} undelivered events dropped).")
