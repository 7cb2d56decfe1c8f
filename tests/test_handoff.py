"""The timed AI handoff: the rules, every reader's view, the written-down resume and its races.

Time moves through the clock seam (``conversations.domain.clock.advance``), never by sleeping.
"""

import threading
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import httpx
import openai
import pytest
import telnyx
from django.core.management import call_command
from django.db import connection

from conversations.domain import clock, handoff
from conversations.domain import metadata as rules
from conversations.domain.conditional import etag
from conversations.domain.durations import parse_until
from conversations.domain.metadata import MetadataError
from conversations.formats.telnyx.responders import echo
from conversations.models import MetadataChange, WebhookEndpoint, WebhookEvent
from conversations.services import (
    MessageInput,
    conversation_ai_reply,
    conversation_ai_set,
    conversation_create,
    conversation_metadata_merge,
    handoffs_resume_due,
    messages_create,
)
from tests.handoffs import STAFF, switched_off

RESUMED = "conversation.ai_resumed"


pytestmark = pytest.mark.usefixtures("real_time")  # tests/conftest.py


@pytest.fixture
def hook(project):
    """An endpoint subscribed to every event (its rows are the outbox; nothing is sent)."""
    return WebhookEndpoint.objects.create(project=project, url="https://hooks.example.com/x")


def _resumes(conversation):
    return MetadataChange.objects.filter(conversation=conversation, action="ai_resume")


def _events(conversation, event_type=RESUMED):
    return WebhookEvent.objects.filter(conversation=conversation, event_type=event_type)


# --- the rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("2026-12-07T05:00:00Z", "2026-12-07T05:00:00Z"),
        ("2026-12-07T06:00:00.999+01:00", "2026-12-07T05:00:00Z"),
        ("2026-12-06T23:00:00-06:00", "2026-12-07T05:00:00Z"),
    ],
)
def test_until_is_stored_in_utc_to_the_second(value, stored):
    assert rules.validate_metadata({"ai_disabled_until": value}) == {"ai_disabled_until": stored}


@pytest.mark.parametrize("value", ["2026-12-07T05:00:00", "tomorrow", 1765083600, "", "x" * 50])
def test_until_without_offset_or_not_a_time_is_refused(value):
    with pytest.raises(MetadataError) as info:
        rules.validate_metadata({"ai_disabled_until": value})
    assert info.value.code == "invalid_ai_disabled_until"


@pytest.mark.parametrize(
    ("value", "stored"),
    [("90s", "90"), ("15m", "900"), ("4h", "14400"), (600, "600"), ("7d", "604800")],
)
def test_idle_takes_durations_and_stores_seconds(value, stored):
    assert rules.validate_metadata({"ai_disabled_idle": value}) == {"ai_disabled_idle": stored}


@pytest.mark.parametrize("value", ["0", "8d", "-5m", "1.5h", True, "15 minutes"])
def test_idle_out_of_range_or_malformed_is_refused(value):
    with pytest.raises(MetadataError) as info:
        rules.validate_metadata({"ai_disabled_idle": value})
    assert info.value.code == "invalid_ai_disabled_idle"


def test_effective_state_turns_on_exactly_at_the_until_time():
    stored = {"ai_disabled": "true", "ai_disabled_until": "2026-12-07T05:00:00Z", "k": "v"}
    at = datetime(2026, 12, 7, 5, tzinfo=UTC)
    assert handoff.ai_off(stored, at - timedelta(seconds=1))
    assert handoff.effective(stored, at - timedelta(seconds=1)) is stored
    assert not handoff.ai_off(stored, at)
    assert handoff.effective(stored, at) == {"k": "v", "ai_disabled": "false"}
    assert handoff.ai_off({"ai_disabled": "true"}, at + timedelta(days=999))


# --- the service, the readers and the resume --------------------------------------------------


def test_timed_switch_off_ends_by_itself_for_every_reader_and_is_written_down_once(
    project, hook, client, api_key
):
    conversation = conversation_create(project=project, actor=STAFF, metadata={"k": "v"})
    conversation, changed = conversation_ai_set(
        conversation=conversation,
        disabled=True,
        actor=STAFF,
        duration=timedelta(minutes=15),
        reason="refund dispute",
    )
    assert changed
    stored = conversation.metadata
    assert stored["ai_disabled"] == "true" and stored["ai_disabled_reason"] == "refund dispute"
    until = parse_until(stored["ai_disabled_until"])
    assert timedelta(minutes=14) < until - clock.now() <= timedelta(minutes=15)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    telnyx_url = f"/telnyx/v2/ai/conversations/{conversation.pk}"
    openai_url = f"/openai/v1/conversations/conv_{conversation.pk.hex}"
    assert client.get(telnyx_url, **auth).json()["data"]["metadata"]["ai_disabled"] == "true"

    clock.advance(timedelta(minutes=16))

    # Read time: every format shows the AI on, though nothing was written yet.
    want = {"k": "v", "ai_disabled": "false"}
    assert client.get(telnyx_url, **auth).json()["data"]["metadata"] == want
    assert client.get(openai_url, **auth).json()["metadata"] == want
    agentphone = client.get(f"/agentphone/v1/conversations/conv_{conversation.pk.hex}", **auth)
    assert agentphone.json()["metadata"] == want
    assert not _resumes(conversation).exists()

    # The chat gate writes the resume down and answers.
    _, reply = conversation_ai_reply(conversation=conversation, content="hi", responder=echo)
    assert reply.content == "You said: hi"
    (resume,) = _resumes(conversation)
    assert (resume.actor_type, resume.actor, resume.source) == ("system", "system", "system")
    assert resume.before == stored and resume.after == want
    (event,) = _events(conversation)
    assert event.payload["event"] == RESUMED
    assert event.payload["data"]["before"]["ai_disabled_reason"] == "refund dispute"

    # Nothing is due any more: the command and further writes add nothing.
    assert handoffs_resume_due() == []
    conversation_metadata_merge(conversation=conversation, patch={"x": "y"}, actor=STAFF)
    assert _resumes(conversation).count() == 1 and _events(conversation).count() == 1


def test_the_command_writes_down_untouched_resumes(project, hook):
    due = switched_off(project, count=3, minutes=5)
    later = conversation_create(
        project=project,
        actor=STAFF,
        metadata={"ai_disabled": True, "ai_disabled_until": "2999-01-01T00:00:00Z"},
    )
    forever = conversation_create(project=project, actor=STAFF, metadata={"ai_disabled": True})
    call_command("resume_handoffs", stdout=open("/dev/null", "w"))
    assert not MetadataChange.objects.filter(action="ai_resume").exists()  # none due yet

    clock.advance(timedelta(minutes=5))
    call_command("resume_handoffs", stdout=open("/dev/null", "w"))

    for conversation in due:
        conversation.refresh_from_db()
        assert conversation.metadata == {"ai_disabled": "false"}
        assert not conversation.ai_disabled
        assert _resumes(conversation).count() == 1 and _events(conversation).count() == 1
    for conversation in (later, forever):
        conversation.refresh_from_db()
        assert conversation.ai_disabled and not _resumes(conversation).exists()


def test_switching_off_again_replaces_the_handoff_and_on_drops_it(project):
    conversation = conversation_create(project=project, actor=STAFF)
    conversation_ai_set(
        conversation=conversation,
        disabled=True,
        actor=STAFF,
        duration=timedelta(hours=1),
        reason="a",
    )
    conversation, changed = conversation_ai_set(
        conversation=conversation, disabled=True, actor=STAFF
    )
    assert changed and conversation.metadata == {"ai_disabled": "true"}
    assert not conversation_ai_set(conversation=conversation, disabled=True, actor=STAFF)[1]
    conversation_ai_set(
        conversation=conversation, disabled=True, actor=STAFF, duration=timedelta(hours=1)
    )
    conversation, _ = conversation_ai_set(conversation=conversation, disabled=False, actor=STAFF)
    assert conversation.metadata == {"ai_disabled": "false"}
    with pytest.raises(MetadataError) as info:
        conversation_ai_set(
            conversation=conversation,
            disabled=True,
            actor=STAFF,
            until=clock.now() - timedelta(seconds=1),
        )
    assert info.value.code == "invalid_ai_disabled_until"


def test_a_merge_that_switches_on_drops_the_handoff_keys(project):
    conversation = conversation_create(
        project=project,
        actor=STAFF,
        metadata={"ai_disabled": "true", "ai_disabled_until": "2999-01-01T00:00:00Z", "k": "v"},
    )
    conversation = conversation_metadata_merge(
        conversation=conversation, patch={"ai_disabled": False}, actor=STAFF
    )
    assert conversation.metadata == {"ai_disabled": "false", "k": "v"}


def test_idle_handoff_is_pushed_by_agent_messages_only(project):
    conversation = conversation_create(project=project, actor=STAFF)
    conversation, _ = conversation_ai_set(
        conversation=conversation, disabled=True, actor=STAFF, idle=timedelta(minutes=10)
    )
    first = parse_until(conversation.metadata["ai_disabled_until"])
    assert conversation.metadata["ai_disabled_idle"] == "600"

    clock.advance(timedelta(minutes=8))
    messages_create(conversation=conversation, messages=[MessageInput(role="user", content="?")])
    conversation.refresh_from_db()
    assert parse_until(conversation.metadata["ai_disabled_until"]) == first

    messages_create(
        conversation=conversation, messages=[MessageInput(role="assistant", content="on it")]
    )
    conversation.refresh_from_db()
    pushed = parse_until(conversation.metadata["ai_disabled_until"])
    assert pushed - first >= timedelta(minutes=7, seconds=59)
    push = MetadataChange.objects.filter(conversation=conversation).first()
    assert (push.actor, push.action) == ("system", "ai_switch")

    clock.advance(timedelta(minutes=9))  # 9 minutes of silence: still off
    assert handoff.ai_off(conversation.metadata, clock.now())
    clock.advance(timedelta(minutes=1, seconds=1))
    assert not handoff.ai_off(conversation.metadata, clock.now())


def test_api_clients_write_the_handoff_as_metadata(telnyx_client, openai_client, project):
    created = telnyx_client.ai.conversations.create(
        metadata={"ai_disabled": True, "ai_disabled_until": "2999-01-01T01:00:00+01:00"}
    )
    assert created.metadata == {"ai_disabled": "true", "ai_disabled_until": "2999-01-01T00:00:00Z"}
    with pytest.raises(telnyx.UnprocessableEntityError) as info:
        telnyx_client.ai.conversations.update(created.id, metadata={"ai_disabled_until": "soon"})
    assert info.value.body["detail"][0]["loc"] == ["body", "metadata", "ai_disabled_until"]
    openai_id = "conv_" + created.id.replace("-", "")
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.conversations.update(openai_id, metadata={"ai_disabled_idle": "8d"})
    assert info.value.param == "metadata.ai_disabled_idle"
    assert "7 days" in info.value.message
    with pytest.raises(telnyx.BadRequestError):
        telnyx_client.ai.assistants.chat("a", content="hi", conversation_id=created.id)


# --- races ------------------------------------------------------------------------------------


def _in_threads(*targets):
    barrier = threading.Barrier(len(targets))
    results = [None] * len(targets)

    def run(index):
        try:
            barrier.wait()
            results[index] = targets[index]()
        except Exception as exc:  # noqa: BLE001 - the test inspects every outcome
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(targets))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _due(project, count=1):
    made = switched_off(project, count=count, minutes=15)
    clock.advance(timedelta(minutes=15))
    return made


@pytest.mark.django_db(transaction=True)
def test_two_workers_write_each_resume_at_most_once(project, hook):
    conversations = _due(project, count=6)
    results = _in_threads(handoffs_resume_due, handoffs_resume_due)
    assert all(isinstance(result, list) for result in results), results
    assert sum(len(result) for result in results) == 6
    for conversation in conversations:
        assert _resumes(conversation).count() == 1 and _events(conversation).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("disabled", [False, True])
def test_switch_while_a_resume_falls_due(project, hook, disabled):
    (conversation,) = _due(project)
    results = _in_threads(
        handoffs_resume_due,
        lambda: conversation_ai_set(conversation=conversation.pk, disabled=disabled, actor=STAFF),
    )
    assert not any(isinstance(result, Exception) for result in results), results
    conversation.refresh_from_db()
    assert conversation.ai_disabled is disabled
    assert _resumes(conversation).count() == 1 and _events(conversation).count() == 1
    # Turning on finds it on already (no row); turning off writes one switch row.
    switches = MetadataChange.objects.filter(conversation=conversation, actor="tests")
    assert switches.filter(action="ai_switch").count() == 1 + disabled  # + the first switch-off


@pytest.mark.django_db(transaction=True)
def test_two_switches_with_the_same_if_match_on_a_due_handoff_one_wins(
    live_server, api_key, project, hook
):
    (conversation,) = _due(project)
    tag = etag(conversation)
    body = {"metadata": {"ai_disabled": True, "ai_disabled_reason": "again"}}

    def put():
        with httpx.Client(
            base_url=live_server.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60
        ) as http:
            url = f"/telnyx/v2/ai/conversations/{conversation.pk}"
            return http.put(url, json=body, headers={"If-Match": tag}).status_code

    statuses = _in_threads(put, put)
    assert sorted(statuses) == [HTTPStatus.OK, HTTPStatus.PRECONDITION_FAILED]
    conversation.refresh_from_db()
    assert conversation.metadata == {"ai_disabled": "true", "ai_disabled_reason": "again"}
    assert _resumes(conversation).count() == 1 and _events(conversation).count() == 1
    assert MetadataChange.objects.filter(conversation=conversation, action="merge").count() == 1


def test_a_write_with_a_past_until_leaves_the_ai_on_and_nothing_due(project, hook):
    conversation = conversation_create(
        project=project,
        actor=STAFF,
        metadata={"ai_disabled": "true", "ai_disabled_until": "2000-01-01T00:00:00Z", "k": "v"},
    )
    assert conversation.metadata == {"ai_disabled": "false", "k": "v"}
    conversation = conversation_metadata_merge(
        conversation=conversation,
        patch={"ai_disabled": True, "ai_disabled_until": "2000-01-01T00:00:00Z"},
        actor=STAFF,
    )
    assert conversation.metadata == {"ai_disabled": "false", "k": "v"}
    assert not _resumes(conversation).exists() and not _events(conversation).exists()


def test_resume_due_returns_the_audit_rows_it_wrote(project, hook):
    conversation, _ = conversation_ai_set(
        conversation=conversation_create(project=project, actor=STAFF),
        disabled=True,
        actor=STAFF,
        duration=timedelta(minutes=5),
    )
    clock.advance(timedelta(minutes=5))
    assert handoffs_resume_due() == list(_resumes(conversation))
