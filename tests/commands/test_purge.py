"""``manage.py purge --days N [--dry-run]``, and the purge service under a concurrent writer."""

from datetime import timedelta

import pytest
from django.core.management import CommandError
from django.utils import timezone

from conversations.models import Conversation, Message
from conversations.services import (
    MessageInput,
    conversations_purge,
    messages_create,
    project_get_or_create,
)
from tests.interleave import after_first_statement


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


def _idle(conversation, days=31):
    Conversation.objects.filter(pk=conversation.pk).update(
        last_message_at=timezone.now() - timedelta(days=days)
    )


@pytest.mark.django_db
def test_purge_of_one_project_keeps_every_other_project_s_conversations(make_conversation):
    ours = make_conversation()
    theirs = make_conversation()
    Conversation.objects.filter(pk=theirs.pk).update(project=project_get_or_create(name="other"))
    _idle(ours)
    _idle(theirs)
    cutoff = timezone.now() - timedelta(days=30)
    assert conversations_purge(idle_before=cutoff, project=ours.project) == 1
    assert list(Conversation.objects.values_list("pk", flat=True)) == [theirs.pk]


@pytest.mark.django_db
def test_purge_in_batches_deletes_and_counts_every_batch(make_conversation):
    idle = [make_conversation() for _ in range(5)]
    for conversation in idle:
        _idle(conversation)
    cutoff = timezone.now() - timedelta(days=30)
    assert conversations_purge(idle_before=cutoff, batch_size=2) == 5
    assert not Conversation.objects.exists()


@pytest.mark.django_db
def test_a_batch_whose_conversations_all_got_a_message_meanwhile_deletes_and_counts_none(
    make_conversation,
):
    """A message that arrives between a batch's ``SELECT`` and its ``DELETE`` keeps its
    conversation (the ``DELETE`` re-checks the idle condition). Here every conversation of the
    batch gets one, through Django's public ``execute_wrapper``, right after the ``SELECT``."""
    idle = [make_conversation() for _ in range(2)]
    for conversation in idle:
        _idle(conversation)

    def a_message_each():
        for conversation in idle:
            messages_create(conversation=conversation, messages=[MessageInput("user", "hi")])

    cutoff = timezone.now() - timedelta(days=30)
    with after_first_statement(
        lambda sql: sql.startswith("SELECT") and "last_message_at" in sql, a_message_each
    ) as selected:
        assert conversations_purge(idle_before=cutoff) == 0
    assert selected, "the purge's SELECT was seen"
    assert Conversation.objects.count() == 2
