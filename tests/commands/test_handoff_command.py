"""``conversation ai-off --for/--until/--idle/--reason`` and ``resume_handoffs``."""

from datetime import timedelta

import pytest
from django.core.management import CommandError

from conversations.domain import clock
from conversations.domain.durations import parse_until
from conversations.models import MetadataChange

pytestmark = pytest.mark.usefixtures("real_time")  # tests/conftest.py


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("4h", 14400)])
def test_ai_off_for_a_duration_with_a_reason(run, make_conversation, text, seconds):
    conversation = make_conversation({"k": "v"})
    before = clock.now()
    out, _ = run("conversation", "ai-off", conversation.pk.hex, "--for", text, "--reason", "vip")
    after = clock.now()
    conversation.refresh_from_db()
    end = parse_until(conversation.metadata["ai_disabled_until"])
    # "now + duration" at some moment of the command's run, stored to the whole second.
    span = timedelta(seconds=seconds)
    assert before + span - timedelta(seconds=1) <= end <= after + span
    assert conversation.metadata["ai_disabled_reason"] == "vip"
    assert f"until {end.isoformat()}" in out
    shown, _ = run("conversation", "show", conversation.pk.hex)
    assert f"off until {end.isoformat()}" in shown

    clock.advance(timedelta(seconds=seconds))
    shown, _ = run("conversation", "show", conversation.pk.hex)
    assert "AI:            on" in shown and "ai_disabled_until" not in shown
    out, _ = run("resume_handoffs")
    assert out.strip() == "Resumed 1 conversation(s)."
    (resume,) = MetadataChange.objects.filter(conversation=conversation, action="ai_resume")
    assert resume.after == {"k": "v", "ai_disabled": "false"}
    assert run("resume_handoffs")[0].strip() == "Resumed 0 conversation(s)."


@pytest.mark.django_db
def test_ai_off_until_a_time_and_idle(run, make_conversation):
    conversation = make_conversation()
    run("conversation", "ai-off", str(conversation.pk), "--until", "2999-01-01T01:00:00+01:00")
    conversation.refresh_from_db()
    assert conversation.metadata["ai_disabled_until"] == "2999-01-01T00:00:00Z"
    run("conversation", "ai-off", str(conversation.pk), "--idle", "10m")
    conversation.refresh_from_db()
    assert conversation.metadata["ai_disabled_idle"] == "600"
    assert "ai_disabled_until" in conversation.metadata  # now + 10 minutes


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args",
    [
        ["--for", "soon"],
        ["--for", "0s"],
        ["--until", "2026-12-07T17:00:00"],  # no offset
        ["--until", "2000-01-01T00:00:00Z"],  # the past
        ["--for", "15m", "--until", "2999-01-01T00:00:00Z"],
        ["--idle", "8d"],
    ],
)
def test_bad_timing_is_a_clear_error_and_writes_nothing(run, make_conversation, args):
    conversation = make_conversation()
    with pytest.raises(CommandError):
        run("conversation", "ai-off", conversation.pk.hex, *args)
    conversation.refresh_from_db()
    assert not conversation.ai_disabled
    assert not MetadataChange.objects.filter(conversation=conversation).exists()


@pytest.mark.django_db
def test_exports_show_an_ended_handoff_as_ai_on(run, make_conversation):
    import json

    conversation = make_conversation({"k": "v"})
    run("conversation", "ai-off", conversation.pk.hex, "--for", "15m")
    (line,) = run("export_conversations")[0].splitlines()
    assert json.loads(line)["metadata"]["ai_disabled"] == "true"
    clock.advance(timedelta(minutes=15))
    (line,) = run("export_conversations")[0].splitlines()
    assert json.loads(line)["metadata"] == {"k": "v", "ai_disabled": "false"}
