"""``python manage.py create_api_key --project NAME [--name LABEL]``."""

from django.core.management.base import BaseCommand, CommandError

from conversations.services import api_key_create, project_get_or_create


class Command(BaseCommand):
    help = (
        "Create an API key for a project (created if new); prints the key alone on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="Project name (created if new).")
        parser.add_argument("--name", default="", help="What the key is for (shown in the admin).")

    def handle(self, *args, project, name, **options):
        if not project.strip():
            raise CommandError("--project must not be empty.")
        project_obj = project_get_or_create(name=project.strip())
        api_key, raw_key = api_key_create(project=project_obj, name=name)
        self.stderr.write(
            f"Created API key {api_key.prefix}… for project '{project_obj.name}'. "
            "It is shown once; store it now."
        )
        self.stdout.write(raw_key)
