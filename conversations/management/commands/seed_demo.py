"""``python manage.py seed_demo``: the quick start's demo project, key, staff login and data."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from conversations.models import Conversation
from conversations.services import (
    Actor,
    MessageInput,
    api_key_create,
    conversation_create,
    project_get_or_create,
)

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

    def handle(self, *args, project, username, **options):
        project_obj = project_get_or_create(name=project)
        _, raw_key = api_key_create(project=project_obj, name="demo key (seed_demo)")
        User = get_user_model()
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user, _ = User.objects.get_or_create(username=username)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
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
