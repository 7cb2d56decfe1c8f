"""ETags: the same in every format, on create answers too, and changed by every write (names
and groups included); a write that fails leaves the version as it was."""

from http import HTTPStatus

import pytest
from django.db import DataError

from conversations.domain.conditional import etag
from conversations.models import Conversation
from conversations.services import conversation_update_fields
from tests.conditional.helpers import detail_urls, etags_everywhere


def test_etag_is_the_same_in_every_format_and_changes_with_every_write(
    http, openai_client, telnyx_client
):
    created = openai_client.conversations.with_raw_response.create(metadata={"a": "1"})
    tag = created.headers["etag"]
    conversation = Conversation.objects.get()
    assert tag == etag(conversation) and not tag.startswith("W/")
    assert set(etags_everywhere(http, conversation).values()) == {tag}

    updated = telnyx_client.ai.conversations.with_raw_response.update(
        str(conversation.id), metadata={"b": "2"}
    )
    new_tag = updated.headers["etag"]
    assert new_tag != tag
    assert set(etags_everywhere(http, conversation).values()) == {new_tag}

    telnyx_client.ai.conversations.add_message(str(conversation.id), role="user", content="hi")
    after_message = etags_everywhere(http, conversation)
    assert len(set(after_message.values())) == 1 and new_tag not in after_message.values()

    patched = http.patch(detail_urls(conversation)["agentphone"], json={"metadata": {"c": "3"}})
    assert patched.status_code == HTTPStatus.OK
    assert set(etags_everywhere(http, conversation).values()) == {patched.headers["etag"]}


def test_create_answers_carry_the_etag_of_the_new_state(http, telnyx_client):
    created = telnyx_client.ai.conversations.with_raw_response.create(metadata={"a": "1"})
    conversation = Conversation.objects.get()
    assert created.headers["etag"] == etag(conversation)
    with_items = http.post(
        "/openai/v1/conversations", json={"items": [{"role": "user", "content": "hi"}]}
    )
    assert with_items.headers["etag"] == etag(
        Conversation.objects.get(pk=with_items.json()["id"][5:])
    )


def test_editing_group_name_or_name_changes_the_etag(http, make_conversation):
    conversation = make_conversation({"a": "1"})
    url = detail_urls(conversation)["agentphone"]
    first = http.get(url).headers["etag"]

    patched = http.patch(url, json={"group_name": "sales"})
    assert patched.status_code == HTTPStatus.OK and patched.json()["groupName"] == "sales"
    second = patched.headers["etag"]
    assert second != first and set(etags_everywhere(http, conversation).values()) == {second}
    # The old tag no longer names the conversation: a write holding it is refused.
    refused = http.patch(url, json={"group_name": "x"}, headers={"If-Match": first})
    assert refused.status_code == HTTPStatus.PRECONDITION_FAILED

    conversation.refresh_from_db()
    conversation_update_fields(conversation=conversation, name="renamed")  # the admin's call
    third = set(etags_everywhere(http, conversation).values())
    assert len(third) == 1 and third.isdisjoint({first, second})


@pytest.mark.django_db(transaction=True)
def test_a_failed_field_edit_leaves_nothing_behind(make_conversation):
    """Name and version are written together: when the write fails (here: the version cannot
    grow past the column's 64-bit limit) the name is not changed either."""
    conversation = make_conversation()
    Conversation.objects.update(version=2**63 - 1)
    conversation.refresh_from_db()
    with pytest.raises((DataError, OverflowError)):
        conversation_update_fields(conversation=conversation, name="half-written")
    stored = Conversation.objects.get()
    assert (stored.name, stored.version) == ("", 2**63 - 1)
