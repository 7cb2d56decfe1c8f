"""The same bounds on the paths beside the API: the admin's thread and JSONL import."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from conversations.domain.limits import message_size
from conversations.models import Conversation
from conversations.services import SYSTEM, MessageInput, conversation_create


@pytest.mark.django_db
def test_admin_thread_stops_at_the_response_budget(admin_client, project, settings):
    settings.CONVSTORE_MAX_RESPONSE_BYTES = 64 * 1024
    conversation = conversation_create(
        project=project, actor=SYSTEM,
        messages=[MessageInput(role="user", content=f"m{i:02d}" + "z" * 10_000)
                  for i in range(12)],
    )  # fmt: skip
    url = reverse("admin:conversations_conversation_change", args=[conversation.pk])
    html = admin_client.get(url).content.decode()
    shown = [i for i in range(12) if f"m{i:02d}z" in html]
    assert shown and shown == list(range(12 - len(shown), 12))  # the newest ones
    assert len(shown) < 12
    assert f"the latest {len(shown)}" in html


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [40, 5000])
def test_import_refuses_a_deeply_nested_line(tmp_path, project, depth):
    line = {"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "project": "acme", "name": "x"}
    text = json.dumps(line)[:-1] + ', "metadata": ' + "[" * depth + "]" * depth + "}"
    path = tmp_path / "deep.jsonl"
    path.write_text(text + "\n")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_conversations", str(path), stdout=StringIO(), stderr=err)
    assert "nested deeper than 33 levels" in err.getvalue()
    assert not Conversation.objects.exists()


@pytest.mark.django_db
def test_imported_messages_are_measured_for_the_response_budget(tmp_path, project):
    line = {
        "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "project": "acme",
        "messages": [{"id": "9fa85f64-5717-4562-b3fc-2c963f66afa6", "content": "é" * 1000}],
    }
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(line) + "\n")
    call_command("import_conversations", str(path), stdout=StringIO(), stderr=StringIO())
    message = Conversation.objects.get().messages.get()
    assert message.size_bytes == message_size(content="é" * 1000)  # 2002 UTF-8 bytes + the rest
    assert message.size_bytes > 2000
