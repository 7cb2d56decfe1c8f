"""The conversation admin through Django's test client, as a staff user."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from conversations.models import Conversation, MetadataChange
from conversations.services import Actor, conversation_metadata_merge

CHANGELIST = reverse("admin:conversations_conversation_changelist")


def change_url(conversation):
    return reverse("admin:conversations_conversation_change", args=[conversation.pk])


def ai_url(conversation, state):
    return reverse("admin:conversations_conversation_ai", args=[conversation.pk, state])


def metadata_post(rows, name=""):
    """A change-form POST body with the given (key, value[, delete]) rows."""
    data = {
        "name": name,
        "meta-TOTAL_FORMS": str(len(rows)),
        "meta-INITIAL_FORMS": "0",
        "meta-MIN_NUM_FORMS": "0",
        "meta-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data[f"meta-{i}-key"] = row[0]
        data[f"meta-{i}-value"] = row[1]
        if len(row) > 2 and row[2]:
            data[f"meta-{i}-DELETE"] = "on"
    return data


@pytest.mark.django_db
def test_staff_edits_metadata_as_rows_and_the_audit_names_the_user(
    admin_client, admin_user, make_conversation
):
    conversation = make_conversation({"customer_name": "Jane", "topic": "billing"})

    response = admin_client.post(
        change_url(conversation),
        metadata_post(
            [("customer_name", "Jane Doe"), ("topic", "billing", True), ("tier", "gold")]
        ),
    )

    assert response.status_code == HTTPStatus.FOUND, response.content[:2000]
    conversation.refresh_from_db()
    assert conversation.metadata == {"customer_name": "Jane Doe", "tier": "gold"}
    change = MetadataChange.objects.filter(conversation=conversation, source="admin").get()
    assert (change.actor_type, change.user, change.action) == ("staff", admin_user, "replace")
    assert change.before == {"customer_name": "Jane", "topic": "billing"}


@pytest.mark.django_db
def test_over_long_key_shows_a_row_error_and_saves_nothing(admin_client, make_conversation):
    conversation = make_conversation({"customer_name": "Jane"})
    long_key = "k" * 65

    response = admin_client.post(
        change_url(conversation),
        metadata_post([("customer_name", "Changed"), (long_key, "x")], name="renamed"),
    )

    assert response.status_code == HTTPStatus.OK
    rows = response.context["metadata_rows"]
    assert "too long" in rows.forms[1].errors["key"][0]
    assert not rows.forms[0].errors
    conversation.refresh_from_db()
    assert conversation.metadata == {"customer_name": "Jane"}
    assert conversation.name == ""
    assert not MetadataChange.objects.filter(conversation=conversation, source="admin").exists()


@pytest.mark.parametrize(
    ("rows", "row", "field", "text"),
    [
        ([("a", "v" * 513)], 0, "value", "too long"),
        ([("ok", "1"), ("ai_disabled", "maybe")], 1, "value", "expected true or false"),
        ([("", "orphan value")], 0, "key", "at least 1 character"),
        ([("dup", "1"), ("dup", "2")], 1, "key", "Duplicate key"),
        ([("nul\x00key", "1")], 0, "key", "Null characters"),
    ],
)
@pytest.mark.django_db
def test_each_broken_rule_is_reported_on_its_row(
    admin_client, make_conversation, rows, row, field, text
):
    conversation = make_conversation({"keep": "me"})

    response = admin_client.post(change_url(conversation), metadata_post(rows))

    assert response.status_code == HTTPStatus.OK
    assert text in " ".join(response.context["metadata_rows"].forms[row].errors[field])
    conversation.refresh_from_db()
    assert conversation.metadata == {"keep": "me"}


@pytest.mark.django_db
def test_seventeen_pairs_is_a_formset_error(admin_client, make_conversation):
    conversation = make_conversation({"keep": "me"})

    rows = [(f"k{i}", "v") for i in range(17)]
    response = admin_client.post(change_url(conversation), metadata_post(rows))

    assert response.status_code == HTTPStatus.OK
    assert "at most 16 pairs" in " ".join(response.context["metadata_rows"].non_form_errors())
    conversation.refresh_from_db()
    assert conversation.metadata == {"keep": "me"}


@pytest.mark.django_db
def test_flip_ai_switch_from_the_list_and_audit_lists_both_changes(
    admin_client, admin_user, make_conversation
):
    conversation = make_conversation({"customer_name": "Jane"})
    admin_client.post(change_url(conversation), metadata_post([("customer_name", "Jane D")]))

    response = admin_client.post(ai_url(conversation, "off"), HTTP_REFERER=CHANGELIST + "?q=Jane")

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == CHANGELIST + "?q=Jane"
    conversation.refresh_from_db()
    assert conversation.ai_disabled is True
    assert conversation.metadata["ai_disabled"] == "true"
    page = admin_client.get(change_url(conversation))
    audit = page.context["audit"]
    assert [(c.action, c.user, c.source) for c in audit[:2]] == [
        ("ai_switch", admin_user, "admin"),
        ("replace", admin_user, "admin"),
    ]
    html = page.content.decode()
    assert html.count("staff user: admin") == 2
    assert "Turn AI on" in html


@pytest.mark.django_db
def test_ai_switch_refuses_get_and_reports_a_no_op(admin_client, make_conversation):
    conversation = make_conversation({"ai_disabled": "true"})

    assert admin_client.get(ai_url(conversation, "off")).status_code == (
        HTTPStatus.METHOD_NOT_ALLOWED
    )
    response = admin_client.post(ai_url(conversation, "off"), follow=True)

    assert "AI was already off" in response.content.decode()
    assert not MetadataChange.objects.filter(source="admin").exists()


@pytest.mark.django_db
def test_ai_switch_needs_csrf_token(client, admin_user, make_conversation):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(admin_user)
    conversation = make_conversation()

    response = csrf_client.post(ai_url(conversation, "off"))

    assert response.status_code == HTTPStatus.FORBIDDEN
    conversation.refresh_from_db()
    assert conversation.ai_disabled is False


@pytest.mark.django_db
def test_bulk_actions_say_what_they_changed(admin_client, admin_user, make_conversation):
    already_off = [make_conversation({"ai_disabled": "true"}) for _ in range(2)]
    on = [make_conversation() for _ in range(3)]
    full = make_conversation({f"k{i}": "v" for i in range(16)})
    selected = [c.pk for c in [*already_off, *on, full]]

    response = admin_client.post(
        CHANGELIST, {"action": "turn_ai_off", "_selected_action": selected}, follow=True
    )

    text = response.content.decode()
    assert "AI turned off for 3 conversations; 2 were already off." in text
    assert "Could not turn AI off for 1 conversation" in text
    assert Conversation.objects.filter(ai_disabled=True).count() == 5
    flips = MetadataChange.objects.filter(action="ai_switch")
    assert flips.count() == 3
    assert {c.user for c in flips} == {admin_user}

    response = admin_client.post(
        CHANGELIST, {"action": "turn_ai_on", "_selected_action": selected}, follow=True
    )
    assert "AI turned on for 5 conversations; 1 was already on." in response.content.decode()


@pytest.mark.django_db
def test_change_page_shows_thread_newest_last(admin_client, make_conversation):
    conversation = make_conversation(
        {"a": "b"}, messages=[("user", "first question"), ("assistant", "the answer")]
    )

    html = admin_client.get(change_url(conversation)).content.decode()

    assert html.index("first question") < html.index("the answer")
    assert "user · inbound" in html
    assert "ai_disabled" in html  # the reserved keys are explained


@pytest.mark.django_db
def test_search_by_any_id_form_and_by_metadata(admin_client, make_conversation):
    jane = make_conversation({"customer_name": "Jane Doe", "order_id": "ORD-1"})
    omar = make_conversation({"customer_name": "Omar", "order_id": "ORD-2"})

    def found(term):
        response = admin_client.get(CHANGELIST, {"q": term})
        assert response.status_code == HTTPStatus.OK
        return {c.pk for c in response.context["cl"].result_list}

    assert found(f"conv_{jane.pk.hex}") == {jane.pk}
    assert found(str(jane.pk)) == {jane.pk}
    assert found(jane.pk.hex.upper()) == {jane.pk}
    assert found("Jane Doe") == {jane.pk}
    assert found("ORD-2") == {omar.pk}
    assert found("order_id=ORD-1") == {jane.pk}
    assert found("customer_name=ORD-1") == set()
    assert found("Jane") == set()  # values match exactly
    assert found('it\'s "quoted" $.* ? (@ == 1)') == set()
    found("\x00")  # Django rejects a NUL search term; never a 500


@pytest.mark.django_db
def test_filters_select_by_switch_channel_key_and_activity(admin_client, make_conversation):
    off = make_conversation({"ai_disabled": "true", "assistant_id": "a1"}, channel="sms")
    on = make_conversation({"topic": "x"}, channel="voice")
    Conversation.objects.filter(pk=on.pk).update(
        last_message_at=on.last_message_at.replace(year=2020)
    )

    def found(**params):
        response = admin_client.get(CHANGELIST, params)
        assert response.status_code == HTTPStatus.OK
        return {c.pk for c in response.context["cl"].result_list}

    assert found(ai="off") == {off.pk}
    assert found(ai="on") == {on.pk}
    assert found(channel="voice") == {on.pk}
    assert found(has_key="assistant_id") == {off.pk}
    assert found(has_key="topic") == {on.pk}
    assert found(activity="idle90") == {on.pk}
    assert found(activity="7d") == {off.pk}
    assert found(project=str(off.project_id), ai="off", has_key="assistant_id") == {off.pk}


@pytest.mark.parametrize("rows", [10, 100])
@pytest.mark.django_db
def test_list_page_queries_are_bounded_whatever_the_page_size(
    admin_client, make_conversation, django_assert_max_num_queries, rows
):
    for i in range(rows):
        conversation = make_conversation({"n": str(i), "ai_disabled": str(i % 2 == 0).lower()})
        conversation_metadata_merge(
            conversation=conversation, patch={"x": "y"}, actor=Actor.for_command("t")
        )
    admin_client.get(CHANGELIST)  # Warm the session and content types.

    with django_assert_max_num_queries(8):
        response = admin_client.get(CHANGELIST, {"q": "y" if rows else ""})
    assert len(response.context["cl"].result_list) == rows

    with django_assert_max_num_queries(8):
        response = admin_client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == rows
    assert response.context["cl"].full_result_count is None


@pytest.mark.django_db
def test_saving_over_a_change_made_meanwhile_is_refused(admin_client, make_conversation):
    conversation = make_conversation({"a": "1"})
    page = admin_client.get(change_url(conversation))
    loaded = page.context["adminform"].form["loaded_version"].value()
    conversation_metadata_merge(
        conversation=conversation, patch={"b": "from the API"}, actor=Actor.for_command("t")
    )

    response = admin_client.post(
        change_url(conversation),
        {**metadata_post([("a", "staff edit")]), "loaded_version": loaded},
    )

    assert response.status_code == HTTPStatus.OK
    assert "changed since this page was opened" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "1", "b": "from the API"}


@pytest.mark.django_db
def test_stale_page_guard_uses_the_conversation_version(admin_client, make_conversation):
    """The guard compares the version the page showed (the ETag's), so a message that arrived
    meanwhile also refuses the save; a fresh page saves."""
    from conversations.services import MessageInput, messages_create

    conversation = make_conversation({"a": "1"})
    page = admin_client.get(change_url(conversation))
    loaded = page.context["adminform"].form["loaded_version"].value()
    assert loaded == conversation.version
    messages_create(conversation=conversation, messages=[MessageInput(role="user", content="hi")])

    post = {**metadata_post([("a", "staff edit")]), "loaded_version": loaded}
    response = admin_client.post(change_url(conversation), post)
    assert "changed since this page was opened" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "1"}

    post["loaded_version"] = conversation.version
    response = admin_client.post(change_url(conversation), post)
    assert response.status_code == HTTPStatus.FOUND
    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "staff edit"}


@pytest.mark.parametrize(
    "params",
    [
        {"q": "="},
        {"q": "a=b=c"},
        {"q": "conv_zz"},
        {"q": "x" * 5000},
        {"q": '"\\\u2028'},
        {"has_key": "\u00e9\u00e8 ' \""},
        {"ai": "maybe", "channel": "fax", "activity": "soon"},
        {"project": "not-a-number"},
        {"p": "99999"},
        {"o": "9.-3"},
        {"all": ""},
    ],
)
@pytest.mark.django_db
def test_odd_list_parameters_never_fail(admin_client, make_conversation, params):
    make_conversation({"a": "b"})

    response = admin_client.get(CHANGELIST, params)

    assert response.status_code in (HTTPStatus.OK, HTTPStatus.FOUND)


@pytest.mark.django_db
def test_ai_switch_for_unknown_or_malformed_id_is_not_found(admin_client):
    for object_id in ("conv_" + "0" * 32, "00000000-0000-0000-0000-000000000000", "junk"):
        url = reverse("admin:conversations_conversation_ai", args=[object_id, "off"])
        assert admin_client.post(url).status_code == HTTPStatus.NOT_FOUND
