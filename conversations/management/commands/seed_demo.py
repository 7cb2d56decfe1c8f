"""``python manage.py seed_demo``: the quick start's demo project, key, staff login and data.

Idempotent, so ``make run`` can call it every time: the demo conversations are created once,
and the staff password and API key printed the first time keep working and are printed again.
They are remembered, per database, in a local file (``.demo-credentials.json`` beside
``manage.py``, mode 0600, gitignored; ``--credentials-file`` or ``DEMO_CREDENTIALS_FILE``
moves it), because the store itself keeps only hashes. When the remembered key no longer
works (revoked, another database, file deleted) a new one is made and the project's older
demo keys are revoked, so demo keys never pile up. ``DEMO_ADMIN_PASSWORD`` sets the password.
"""

import json
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection

from conversations.models import ApiKey, Conversation
from conversations.services import (
    Actor,
    MessageInput,
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
    conversation_create,
    project_get_or_create,
)

DEMO_KEY_NAME = "demo key (seed_demo)"

SAMPLES = [
    (
        {"customer_name": "Jane Doe", "order_id": "ORD-12345", "topic": "delivery"},
        [("user", "Where is my order?"), ("assistant", "It ships tomorrow.")],
        {"channel": "sms", "phone_number": "+15551234567", "participant": "+15559876543"},
    ),
    (
        {"customer_name": "Omar Li", "assistant_id": "assistant-123", "ai_disabled": "true"},
        [("user", "I want to talk to a person."), ("assistant", "Connecting you now.")],
        {"channel": "voice", "phone_number": "+15551234567", "participant": "+15550001111"},
    ),
    (
        {"customer_name": "Ada K", "telnyx_conversation_channel": "web_chat"},
        [("user", "Do you ship to Canada?")],
        {"channel": "web_chat"},
    ),
]


class Command(BaseCommand):
    help = "Create the demo project, an API key, a staff login and sample conversations."

    def add_arguments(self, parser):
        parser.add_argument("--project", default="demo", help="Demo project name.")
        parser.add_argument("--username", default="admin", help="Staff login to create.")
        parser.add_argument(
            "--credentials-file",
            default=os.environ.get("DEMO_CREDENTIALS_FILE")
            or str(Path(settings.BASE_DIR) / ".demo-credentials.json"),
            help="Where the demo password and key are remembered between runs.",
        )

    def handle(self, *args, project, username, credentials_file, **options):
        path = Path(credentials_file)
        remembered = _read(path)
        database = str(connection.settings_dict["NAME"])
        mine = remembered.get(database, {})

        project_obj = project_get_or_create(name=project)
        raw_key = mine.get("api_key", "")
        api_key = api_key_authenticate(raw_key) if raw_key else None
        if api_key is None or api_key.project_id != project_obj.pk:
            new_key, raw_key = api_key_create(project=project_obj, name=DEMO_KEY_NAME)
            old = ApiKey.objects.filter(
                project=project_obj, name=DEMO_KEY_NAME, revoked_at__isnull=True
            ).exclude(pk=new_key.pk)
            for stale in old:
                api_key_revoke(api_key=stale)

        User = get_user_model()
        user, _ = User.objects.get_or_create(username=username)
        wanted = os.environ.get("DEMO_ADMIN_PASSWORD") or mine.get("password", "")
        password = wanted if wanted and user.check_password(wanted) else ""
        if not password:
            password = wanted or secrets.token_urlsafe(12)
            user.set_password(password)
        user.is_staff = user.is_superuser = user.is_active = True
        user.save()

        remembered[database] = {"username": username, "password": password, "api_key": raw_key}
        _write(path, remembered)

        actor = Actor.for_command("seed_demo")
        if not Conversation.objects.filter(project=project_obj).exists():
            for metadata, turns, context in SAMPLES:
                conversation_create(
                    project=project_obj,
                    metadata=metadata,
                    actor=actor,
                    messages=[MessageInput(role=r, content=c) for r, c in turns],
                    **context,
                )
        count = Conversation.objects.filter(project=project_obj).count()
        self.stdout.write(f"Project:      {project_obj.name} ({count} conversations)")
        self.stdout.write(f"Staff login:  {username} / {password}  (admin at /admin/)")
        self.stdout.write(f"API key:      {raw_key}")


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(data, handle, indent=2)
