"""``manage.py purge --days N [--dry-run]``."""

from datetime import timedelta

import pytest
from django.core.management import CommandError
from django.utils import timezone

from conversations.models import Conversation, Message


@pytest.mark.django_db
def test_purge_deletes_only_conversations_idle_longer_than_n_days(run, make_conversation):
    old = make_conversation({"a": "b"}, messages=[("user", "old")])
    recent = make_conversation(messages=[("user", "new")])
    Conversation.objects.filter(pk=old.pk).update(
        last_message_at=timezone.now() - timedelta(days=31)
    )

    dry, _ = run("purge", "--days", "30", "--dry-run")
    assert "Would delete 1 conversations" in dry
    assert Conversation.objects.count() == 2

    out, _ = run("purge", "--days", "30")

    assert "Deleted 1 conversations" in out
    assert list(Conversation.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not Message.objects.filter(conversation_id=old.pk).exists()


@pytest.mark.django_db
def test_purge_rejects_bad_days_and_unknown_project(run):
    with pytest.raises(CommandError, match="at least 1"):
        run("purge", "--days", "0")
    with pytest.raises(CommandError, match="No project"):
        run("purge", "--days", "5", "--project", "nope")
