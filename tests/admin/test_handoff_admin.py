"""The timed handoff in the admin (Django's test client): switch off for a while, the list
filters, who/why/until on the page, and the AI back on once the clock passes the time."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.urls import reverse

from conversations.domain import clock
from conversations.domain.durations import parse_until
from conversations.models import MetadataChange
from conversations.services import Actor, conversation_ai_set

CHANGELIST = reverse("admin:conversations_conversation_changelist")


pytestmark = pytest.mark.usefixtures("real_time")  # tests/conftest.py


def ai_url(conversation, state):
    return reverse("admin:conversations_conversation_ai", args=[conversation.pk, state])


def listed(admin_client, query):
    response = admin_client.get(CHANGELIST + query)
    assert response.status_code == HTTPStatus.OK
    return {row.pk for row in response.context["cl"].result_list}


@pytest.mark.django_db
def test_turn_ai_off_for_15_minutes_with_a_reason_from_the_list(admin_client, make_conversation):
    conversation = make_conversation({"customer_name": "Jane"})
    response = admin_client.post(
        ai_url(conversation, "off"),
        {f"ai_for_{conversation.pk.hex}": "15m", "ai_reason": "angry customer"},
        follow=True,
    )
    assert "AI turned off for conv_" in response.content.decode()
    conversation.refresh_from_db()
    end = parse_until(conversation.metadata["ai_disabled_until"])
    assert timedelta(minutes=14) < end - clock.now() <= timedelta(minutes=15)
    assert conversation.metadata["ai_disabled_reason"] == "angry customer"

    page = admin_client.get(
        reverse("admin:conversations_conversation_change", args=[conversation.pk])
    ).content.decode()
    assert "taken over by <b>admin</b>" in page
    assert "angry customer" in page and "until " in page
    assert "Turn AI on" in page

    clock.advance(timedelta(minutes=15))
    page = admin_client.get(
        reverse("admin:conversations_conversation_change", args=[conversation.pk])
    ).content.decode()
    assert 'data-ai="on"' in page and "Turn AI off" in page


@pytest.mark.django_db
def test_list_filters_tell_timed_untimed_and_soon(admin_client, make_conversation):
    staff = Actor.for_command("tests")
    on = make_conversation({})
    forever = make_conversation({"ai_disabled": "true"})
    soon = conversation_ai_set(
        conversation=make_conversation({}),
        disabled=True,
        actor=staff,
        duration=timedelta(minutes=30),
    )[0]
    later = conversation_ai_set(
        conversation=make_conversation({}), disabled=True, actor=staff, duration=timedelta(hours=4)
    )[0]

    assert listed(admin_client, "?ai=timed") == {soon.pk, later.pk}
    assert listed(admin_client, "?ai=forever") == {forever.pk}
    assert listed(admin_client, "?ai=soon") == {soon.pk}
    assert listed(admin_client, "?ai=off") == {forever.pk, soon.pk, later.pk}
    assert listed(admin_client, "?ai=on") == {on.pk}

    clock.advance(timedelta(minutes=31))  # soon's time has passed: it reads as on
    assert listed(admin_client, "?ai=off") == {forever.pk, later.pk}
    assert listed(admin_client, "?ai=on") == {on.pk, soon.pk}
    assert listed(admin_client, "?ai=timed") == {later.pk}
    assert listed(admin_client, "?ai=soon") == set()
    assert not MetadataChange.objects.filter(action="ai_resume").exists()  # reads write nothing


@pytest.mark.django_db
def test_unknown_duration_is_refused_and_changes_nothing(admin_client, make_conversation):
    conversation = make_conversation({})
    response = admin_client.post(ai_url(conversation, "off"), {"ai_for": "soonish"}, follow=True)
    assert "Unknown duration" in response.content.decode()
    conversation.refresh_from_db()
    assert not conversation.ai_disabled
