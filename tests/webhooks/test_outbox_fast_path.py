"""The fast write path's outbox: an event exactly when the change commits, for the endpoints
active when it commits, even when an endpoint is switched on or off in the middle of a write.

The fast path (:mod:`conversations.services.fastwrite`) reads the project's active endpoints,
builds the events in Python, and writes change + events in one statement whose compare-and-swap
also compares the endpoint set. These tests change the endpoint set between the read and the
write (inside ``compute``, the hook the services pass the metadata rule through) and check the
statement refuses, so the locking path re-reads and writes the right events.
"""

import pytest
from django.db import connection

from conversations import services
from conversations.domain import events
from conversations.domain.metadata import merge
from conversations.models import Conversation, MetadataChange, WebhookEndpoint, WebhookEvent
from conversations.services import Actor, fastwrite
from conversations.webhooks.endpoints import webhook_endpoint_create

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the fast write path runs on PostgreSQL only"
)

ACTOR = Actor.for_command("tests")


def fast_merge_while(conversation, patch, side_effect):
    """One fast-path merge of ``patch`` that runs ``side_effect()`` after its read."""

    def compute(stored):
        side_effect()
        return merge(stored, patch)

    return fastwrite.write(
        conversation=conversation,
        scope=None,
        compute=compute,
        action=lambda new: MetadataChange.Action.MERGE,
        actor=ACTOR,
    )


@pytest.mark.parametrize("switch_to", [True, False], ids=["activated", "deactivated"])
def test_an_endpoint_switched_mid_write_makes_the_fast_write_step_aside(
    project, receiver, switch_to
):
    assert fastwrite.enabled(connection.alias)
    conversation = services.conversation_create(project=project, actor=ACTOR, metadata={"a": "1"})
    endpoint = webhook_endpoint_create(project=project, url=receiver.url, is_active=not switch_to)
    version = Conversation.objects.get().version

    def switch():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=switch_to)

    assert fast_merge_while(conversation, {"b": "2"}, switch) is None
    stored = Conversation.objects.get()
    assert (stored.metadata, stored.version) == ({"a": "1"}, version)
    assert not WebhookEvent.objects.exists()
    assert not MetadataChange.objects.filter(action=MetadataChange.Action.MERGE).exists()

    # The service then takes the locking path, which reads the endpoint set afresh.
    services.conversation_metadata_merge(conversation=conversation, patch={"b": "2"}, actor=ACTOR)
    events = list(WebhookEvent.objects.values_list("endpoint_id", "payload"))
    if switch_to:
        ((endpoint_id, payload),) = events
        assert endpoint_id == endpoint.pk and payload["conversationState"] == {"a": "1", "b": "2"}
    else:
        assert events == []
    assert Conversation.objects.get().version == version + 1


def test_an_unchanged_endpoint_set_lets_the_fast_write_commit_its_event(project, endpoint):
    """The control case: with nothing switched, the fast path writes change and event."""
    conversation = services.conversation_create(project=project, actor=ACTOR)
    row = fast_merge_while(conversation, {"b": "2"}, lambda: None)
    assert row is not None and row.metadata == {"b": "2"}
    ((endpoint_id, payload),) = WebhookEvent.objects.values_list("endpoint_id", "payload")
    assert endpoint_id == endpoint.pk and payload["conversationState"] == {"b": "2"}


def test_another_metadata_changed_receiver_turns_the_fast_path_off(project, endpoint):
    """The fast path writes what the outbox receiver would; any other receiver must see every
    change, so while one is connected every write takes the locking path and sends the signal."""
    seen = []

    def audit_log(sender, conversation, change, **kwargs):
        seen.append(change.after)

    conversation = services.conversation_create(project=project, actor=ACTOR)
    for connect in (
        lambda: events.metadata_changed.connect(audit_log),
        lambda: events.metadata_changed.connect(audit_log, dispatch_uid="tests.audit_log"),
    ):
        connect()
        try:
            assert not fastwrite.enabled(connection.alias)
            services.conversation_metadata_merge(
                conversation=conversation, patch={"n": str(len(seen))}, actor=ACTOR
            )
        finally:
            events.metadata_changed.disconnect(audit_log)
            events.metadata_changed.disconnect(dispatch_uid="tests.audit_log")
        assert fastwrite.enabled(connection.alias)
    assert seen == [{"n": "0"}, {"n": "1"}]
    assert WebhookEvent.objects.count() == 2  # the outbox receiver ran on the locking path
