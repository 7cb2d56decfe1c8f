"""The timed handoff's rules as pure functions (conversations/domain/handoff.py and
durations.py, docs/handoff.md): when the end moves and when it stays, who counts as the
agent side, and the time values' bounds, wording and UTC storage whatever the server's
local time zone. Plus the service-level case those rules fixed: switching off again, or
replacing the metadata, with an idle length and no end."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from conversations.domain import handoff
from conversations.domain.durations import format_until, parse_duration, parse_until
from conversations.services import (
    conversation_ai_set,
    conversation_create,
    conversation_metadata_replace,
)
from tests.handoffs import STAFF

NOW = datetime(2026, 12, 7, 5, 0, 0, 250000, tzinfo=UTC)
IDLE = {"ai_disabled": "true", "ai_disabled_idle": "600"}


def test_an_agent_message_within_the_end_s_second_changes_nothing():
    at_end = {**IDLE, "ai_disabled_until": format_until(NOW + timedelta(seconds=600))}
    assert handoff.extended_for_agent(at_end, NOW) is None
    later = NOW + timedelta(seconds=1)
    assert handoff.extended_for_agent(at_end, later) == {
        **IDLE,
        "ai_disabled_until": "2026-12-07T05:10:01Z",
    }


def test_a_later_end_than_now_plus_idle_is_kept_on_a_switch_off():
    new = {**IDLE, "ai_disabled_until": "2026-12-07T06:00:00Z"}
    assert handoff.finish({}, new, now=NOW) == new
    sooner = {**IDLE, "ai_disabled_until": "2026-12-07T05:01:00Z"}
    assert handoff.finish({}, sooner, now=NOW)["ai_disabled_until"] == "2026-12-07T05:10:00Z"


def test_a_switch_off_over_an_ended_handoff_starts_a_new_end():
    """A stored handoff that has ended counts as not off: the same idle length written over
    it is a switch-off, so the end moves to now + idle."""
    ended = {**IDLE, "ai_disabled_until": "2026-12-07T04:00:00Z"}
    new = {**IDLE, "ai_disabled_until": "2026-12-07T05:01:00Z"}
    assert handoff.finish(ended, new, now=NOW)["ai_disabled_until"] == "2026-12-07T05:10:00Z"


def test_an_agent_message_moves_only_an_idle_handoff_in_force():
    assert handoff.extended_for_agent({"ai_disabled": "true"}, NOW) is None  # no idle
    ended = {**IDLE, "ai_disabled_until": "2026-12-07T04:00:00Z"}
    assert handoff.extended_for_agent(ended, NOW) is None


@pytest.mark.parametrize(
    ("role", "direction", "agent_side"),
    [
        ("assistant", "outbound", True),
        ("", "outbound", True),
        ("user", "outbound", False),
        ("assistant", "inbound", False),
        ("", "inbound", False),
    ],
)
def test_the_agent_side_is_an_outbound_assistant_or_unnamed_role(role, direction, agent_side):
    assert handoff.is_agent_side(role=role, direction=direction) is agent_side


def test_a_switch_off_without_a_reason_stores_none():
    assert handoff.switched_off({"k": "v"}, now=NOW) == {"k": "v", "ai_disabled": "true"}


def test_time_values_are_bounded_and_their_errors_say_what_is_expected():
    assert parse_until("2026-12-07T05:00:00Z".center(40)) == datetime(2026, 12, 7, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="Expected an RFC 3339 date-time"):
        parse_until("2026-12-07T05:00:00Z".center(41))
    with pytest.raises(ValueError, match="has no offset"):
        parse_until("2026-12-07T05:00:00")
    with pytest.raises(ValueError, match="Expected a duration like 90s, 15m, 4h or 1d"):
        parse_duration("soon")


@pytest.fixture
def new_york_local_time(monkeypatch):
    """The process's local time zone set to America/New_York (UTC-5 in December)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_times_are_stored_in_utc_whatever_the_local_time_zone(new_york_local_time):
    assert time.localtime(0).tm_gmtoff == -5 * 3600  # the zone took effect
    parsed = parse_until("2026-12-07T06:00:00+01:00")
    assert parsed.utcoffset() == timedelta(0) and parsed.hour == 5
    assert format_until(datetime(2026, 12, 7, 5, tzinfo=UTC)) == "2026-12-07T05:00:00Z"


@pytest.mark.django_db
def test_switching_off_again_with_the_same_idle_length_starts_a_new_end(project):
    conversation = conversation_create(project=project, actor=STAFF)
    for _ in range(2):
        conversation, _ = conversation_ai_set(
            conversation=conversation, disabled=True, actor=STAFF, idle=timedelta(minutes=10)
        )
        assert "ai_disabled_until" in conversation.metadata


@pytest.mark.django_db
def test_a_replace_that_keeps_the_idle_length_but_leaves_out_the_end_gets_one(project):
    conversation, _ = conversation_ai_set(
        conversation=conversation_create(project=project, actor=STAFF),
        disabled=True,
        actor=STAFF,
        idle=timedelta(minutes=10),
    )
    replaced = conversation_metadata_replace(conversation=conversation, metadata=IDLE, actor=STAFF)
    assert "ai_disabled_until" in replaced.metadata


def test_switching_off_again_is_a_new_handoff_whose_end_is_at_least_now_plus_idle():
    in_force = {**IDLE, "ai_disabled_until": "2026-12-07T05:08:00Z"}
    again = handoff.switched_off(
        in_force, now=NOW, until_at=NOW + timedelta(minutes=1), idle_for=timedelta(minutes=10)
    )
    assert again == {**IDLE, "ai_disabled_until": "2026-12-07T05:10:00Z"}
