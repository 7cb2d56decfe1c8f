"""Conditional requests (RFC 9110 §13): ETag on every conversation answer, If-Match on update
and delete, If-None-Match on GET, in every format, through the official SDKs and plain HTTP."""

import json
import os
import threading
from http import HTTPStatus

import httpx
import openai
import pytest
import telnyx
from django.db import DataError, connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations.domain.conditional import EntityTags, PreconditionFailed, etag
from conversations.models import Conversation, MetadataChange
from conversations.services import (
    Actor,
    MessageInput,
    conversation_delete,
    conversation_metadata_merge,
    conversation_update_fields,
    messages_create,
)

CMD = Actor.for_command("tests")


def detail_urls(conversation):
    """The GET route of one conversation in every format."""
    hex_id = conversation.id.hex
    return {
        "openai": f"/openai/v1/conversations/conv_{hex_id}",
        "azure": f"/azure/openai/v1/conversations/conv_{hex_id}",
        "telnyx": f"/telnyx/v2/ai/conversations/{conversation.id}",
        "agentphone": f"/agentphone/v1/conversations/conv_{hex_id}",
    }


def etags_everywhere(http, conversation):
    return {
        name: http.get(url).headers.get("etag") for name, url in detail_urls(conversation).items()
    }


# --- ETag ----------------------------------------------------------------------------------------


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


# --- If-Match ------------------------------------------------------------------------------------


def test_stale_if_match_gets_412_from_the_openai_sdk_and_changes_nothing(openai_client):
    raw = openai_client.conversations.with_raw_response.create(metadata={"a": "1"})
    conv, stale = raw.parse(), raw.headers["etag"]
    openai_client.conversations.update(conv.id, metadata={"a": "2"})
    audits = MetadataChange.objects.count()

    with pytest.raises(openai.APIStatusError) as info:
        openai_client.conversations.update(
            conv.id, metadata={"a": "mine"}, extra_headers={"If-Match": stale}
        )
    assert info.value.status_code == HTTPStatus.PRECONDITION_FAILED
    assert info.value.code == "precondition_failed" and info.value.param == "If-Match"
    with pytest.raises(openai.APIStatusError) as info:
        openai_client.conversations.delete(conv.id, extra_headers={"If-Match": stale})
    assert info.value.status_code == HTTPStatus.PRECONDITION_FAILED

    assert openai_client.conversations.retrieve(conv.id).metadata == {"a": "2"}
    assert MetadataChange.objects.count() == audits

    current = openai_client.conversations.with_raw_response.retrieve(conv.id).headers["etag"]
    updated = openai_client.conversations.with_raw_response.update(
        conv.id, metadata={"a": "3"}, extra_headers={"If-Match": current}
    )
    assert updated.parse().metadata == {"a": "3"}
    deleted = openai_client.conversations.delete(
        conv.id, extra_headers={"If-Match": updated.headers["etag"]}
    )
    assert deleted.deleted is True and not Conversation.objects.exists()


def test_azure_client_gets_412_for_a_stale_if_match(azure_client_factory):
    azure = azure_client_factory(isolation_key="user-1")
    raw = azure.conversations.with_raw_response.create(metadata={"a": "1"})
    conv, stale = raw.parse(), raw.headers["etag"]
    azure.conversations.update(conv.id, metadata={"b": "2"})
    with pytest.raises(openai.APIStatusError) as info:
        azure.conversations.update(conv.id, metadata={"a": "x"}, extra_headers={"If-Match": stale})
    assert info.value.status_code == HTTPStatus.PRECONDITION_FAILED
    assert azure.conversations.retrieve(conv.id).metadata == {"a": "1", "b": "2"}


def test_telnyx_sdk_gets_412_in_the_telnyx_envelope(telnyx_client, http):
    created = telnyx_client.ai.conversations.with_raw_response.create(metadata={"a": "1"})
    conv_id, stale = created.parse().id, created.headers["etag"]
    telnyx_client.ai.conversations.update(conv_id, metadata={"a": "2"})
    with pytest.raises(telnyx.APIStatusError) as info:
        telnyx_client.ai.conversations.update(
            conv_id, metadata={"a": "x"}, extra_headers={"If-Match": stale}
        )
    assert info.value.status_code == HTTPStatus.PRECONDITION_FAILED
    (error,) = info.value.body["errors"]
    assert (error["code"], error["title"]) == ("10015", "Precondition Failed")
    with pytest.raises(telnyx.APIStatusError) as info:
        telnyx_client.ai.conversations.delete(conv_id, extra_headers={"If-Match": stale})
    assert info.value.status_code == HTTPStatus.PRECONDITION_FAILED
    assert telnyx_client.ai.conversations.retrieve(conv_id).data.metadata == {"a": "2"}

    # An empty PUT with a stale If-Match is refused too; with a current one it answers 200.
    url = f"/telnyx/v2/ai/conversations/{conv_id}"
    assert http.put(url, json={}, headers={"If-Match": stale}).status_code == 412
    current = http.get(url).headers["etag"]
    assert http.put(url, json={}, headers={"If-Match": current}).status_code == 200
    assert http.delete(url, headers={"If-Match": current}).status_code == 200
    assert not Conversation.objects.exists()


def test_agentphone_patch_gets_412_over_plain_http(http, make_conversation):
    conversation = make_conversation({"a": "1"})
    url = detail_urls(conversation)["agentphone"]
    stale = http.get(url).headers["etag"]
    conversation_metadata_merge(conversation=conversation, patch={"b": "2"}, actor=CMD)

    for body in ({"metadata": {"a": "x"}}, {"group_name": "g"}, {}):
        response = http.patch(url, json=body, headers={"If-Match": stale})
        assert response.status_code == HTTPStatus.PRECONDITION_FAILED
        assert "ETag" in response.json()["detail"]
    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "1", "b": "2"} and conversation.group_name is None

    current = http.get(url).headers["etag"]
    response = http.patch(url, json={"metadata": {"z": "1"}}, headers={"If-Match": current})
    assert response.status_code == HTTPStatus.OK and response.json()["metadata"] == {"z": "1"}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("*", HTTPStatus.OK),
        ('"nope", CURRENT', HTTPStatus.OK),
        ("W/CURRENT", HTTPStatus.PRECONDITION_FAILED),  # If-Match compares strongly
        ("CURRENT-but-unquoted", HTTPStatus.PRECONDITION_FAILED),
        ('"x" "y"', HTTPStatus.PRECONDITION_FAILED),
        ("", HTTPStatus.PRECONDITION_FAILED),
    ],
)
def test_if_match_forms(client, api_key, make_conversation, header, expected):
    conversation = make_conversation({"a": "1"})
    current = etag(conversation)
    value = header.replace("CURRENT-but-unquoted", current.strip('"')).replace("CURRENT", current)
    response = client.post(
        f"/openai/v1/conversations/conv_{conversation.id.hex}",
        data={"metadata": {"a": "2"}},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
        HTTP_IF_MATCH=value,
    )
    assert response.status_code == expected, response.content


def test_if_match_on_an_unknown_conversation_is_a_404_in_every_format(http):
    hex_id = "0" * 32
    assert (
        http.post(
            f"/openai/v1/conversations/conv_{hex_id}",
            json={"metadata": {}},
            headers={"If-Match": "*"},
        ).status_code
        == HTTPStatus.NOT_FOUND
    )
    assert (
        http.delete(
            f"/telnyx/v2/ai/conversations/{hex_id}", headers={"If-Match": '"x"'}
        ).status_code
        == HTTPStatus.NOT_FOUND
    )
    assert (
        http.patch(
            f"/agentphone/v1/conversations/conv_{hex_id}", json={}, headers={"If-Match": "*"}
        ).status_code
        == HTTPStatus.NOT_FOUND
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fmt", ["openai", "telnyx", "agentphone"])
def test_two_writers_with_the_same_if_match_one_wins(live_server, api_key, project, fmt):
    conversation = Conversation.objects.create(project=project, metadata={"n": "0"})
    tag = etag(conversation)
    urls = detail_urls(conversation)
    barrier = threading.Barrier(2)
    statuses = [None, None]

    def write(index):
        with httpx.Client(
            base_url=live_server.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60
        ) as http:
            body = {"metadata": {"n": str(index + 1)}}
            barrier.wait()
            if fmt == "openai":
                response = http.post(urls["openai"], json=body, headers={"If-Match": tag})
            elif fmt == "telnyx":
                response = http.put(urls["telnyx"], json=body, headers={"If-Match": tag})
            else:
                response = http.patch(urls["agentphone"], json=body, headers={"If-Match": tag})
            statuses[index] = response.status_code

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [HTTPStatus.OK, HTTPStatus.PRECONDITION_FAILED]
    conversation.refresh_from_db()
    assert conversation.version == 2
    assert MetadataChange.objects.filter(conversation=conversation).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_sdk_clients_race_with_the_same_if_match(live_server, api_key, project):
    conversation = Conversation.objects.create(project=project, metadata={})
    tag, conv_id = etag(conversation), f"conv_{conversation.id.hex}"
    barrier = threading.Barrier(2)
    outcomes = [None, None]

    def write(index):
        client = openai.OpenAI(
            base_url=f"{live_server.url}/openai/v1", api_key=api_key, max_retries=0
        )
        barrier.wait()
        try:
            client.conversations.update(
                conv_id, metadata={"who": str(index)}, extra_headers={"If-Match": tag}
            )
            outcomes[index] = 200
        except openai.APIStatusError as exc:
            outcomes[index] = exc.status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [200, 412]


# --- If-None-Match ------------------------------------------------------------------------------


def test_if_none_match_answers_304_without_a_body_in_every_format(http, make_conversation):
    conversation = make_conversation({"a": "1"})
    current = etag(conversation)
    for name, url in detail_urls(conversation).items():
        for header in (current, f"W/{current}", f'"other", {current}', "*"):
            response = http.get(url, headers={"If-None-Match": header})
            assert response.status_code == HTTPStatus.NOT_MODIFIED, (name, header)
            assert response.content == b"" and response.headers["etag"] == current
        response = http.get(url, headers={"If-None-Match": '"other"'})
        assert response.status_code == HTTPStatus.OK and response.headers["etag"] == current
    conversation_metadata_merge(conversation=conversation, patch={"b": "2"}, actor=CMD)
    for url in detail_urls(conversation).values():
        assert http.get(url, headers={"If-None-Match": current}).status_code == HTTPStatus.OK


def test_openai_sdk_reports_304_as_a_status_error(openai_client, make_conversation):
    """The SDK treats any non-2xx as an error, so a client polling with If-None-Match catches
    ``APIStatusError`` with status 304 ("unchanged")."""
    conversation = make_conversation({"a": "1"})
    with pytest.raises(openai.APIStatusError) as info:
        openai_client.conversations.retrieve(
            f"conv_{conversation.id.hex}", extra_headers={"If-None-Match": etag(conversation)}
        )
    assert info.value.status_code == HTTPStatus.NOT_MODIFIED
    assert info.value.response.content == b""


# --- the services ------------------------------------------------------------------------------


def test_services_check_if_match_under_the_lock(make_conversation):
    conversation = make_conversation({"a": "1"})
    stale = EntityTags.parse(etag(conversation))
    messages_create(conversation=conversation, messages=[MessageInput(role="user", content="x")])
    with pytest.raises(PreconditionFailed) as info:
        conversation_metadata_merge(
            conversation=conversation.pk, patch={"a": "2"}, actor=CMD, if_match=stale
        )
    assert info.value.current == etag(Conversation.objects.get())
    with pytest.raises(PreconditionFailed):
        conversation_delete(conversation=conversation, if_match=stale)
    assert Conversation.objects.get().metadata == {"a": "1"}
    conversation_delete(conversation=conversation, if_match=EntityTags.parse("*"))
    assert not Conversation.objects.exists()


def test_entity_tag_parsing_is_bounded_and_strict():
    assert EntityTags.parse(None) is None
    assert EntityTags.parse(" * ").any
    tags = EntityTags.parse('"a", W/"b" ,"c"')
    assert tags.strong == {'"a"', '"c"'} and tags.weak == {'"b"'}
    assert EntityTags.parse('"a", b') == EntityTags()
    assert EntityTags.parse('"' + "a" * 5000 + '"') == EntityTags()


# --- any header value ----------------------------------------------------------------------------


@pytest.mark.django_db
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    header=st.sampled_from(["HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH", "HTTP_IDEMPOTENCY_KEY"]),
    value=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=300),
    route=st.sampled_from(
        [
            ("post", "/openai/v1/conversations/{conv}", {"metadata": {"a": "b"}}),
            ("post", "/openai/v1/conversations", {}),
            ("get", "/openai/v1/conversations/{conv}", None),
            ("put", "/telnyx/v2/ai/conversations/{uuid}", {"metadata": {"a": "b"}}),
            ("post", "/telnyx/v2/ai/conversations", {}),
            ("delete", "/telnyx/v2/ai/conversations/{uuid}", None),
            ("patch", "/agentphone/v1/conversations/{conv}", {"metadata": {}}),
            ("get", "/agentphone/v1/conversations/{conv}", None),
        ]
    ),
)
def test_no_header_value_gets_a_500(client, api_key, project, header, value, route):
    conversation = Conversation.objects.get_or_create(project=project, name="fuzz")[0]
    method, template, body = route
    path = template.format(conv=f"conv_{conversation.id.hex}", uuid=conversation.id)
    extra = {"HTTP_AUTHORIZATION": f"Bearer {api_key}", header: value}
    if body is None:
        response = getattr(client, method)(path, **extra)
    else:
        response = getattr(client, method)(
            path, data=json.dumps(body), content_type="application/json", **extra
        )
    assert response.status_code < 500, (header, value, response.content)


# --- every write changes the ETag: names and groups too -----------------------------------------


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


def test_the_stale_page_guard_names_exactly_one_version(make_conversation):
    """``EntityTags.for_version`` (the admin's guard): matches the conversation at that version
    and no other state of it."""
    conversation = make_conversation({"a": "1"})
    guard = EntityTags.for_version(conversation.id, conversation.version)
    assert guard.matches_strongly(conversation) and not guard.any
    conversation_metadata_merge(conversation=conversation, patch={"b": "2"}, actor=CMD)
    conversation.refresh_from_db()
    assert not guard.matches_strongly(conversation)
    with pytest.raises(PreconditionFailed):
        conversation_metadata_merge(
            conversation=conversation, patch={"c": "3"}, actor=CMD, if_match=guard
        )


def test_precondition_failed_says_what_to_do(make_conversation):
    conversation = make_conversation()
    error = PreconditionFailed(conversation)
    assert str(error) == (
        f"The conversation has changed: its current ETag is {etag(conversation)}, which "
        "If-Match does not name. Nothing was written: read the conversation again and retry "
        "with its new ETag."
    )


def test_a_header_at_the_length_limit_is_still_read(make_conversation):
    conversation = make_conversation()
    tag = etag(conversation)
    value = " " * (4096 - len(tag)) + tag
    assert len(value) == 4096 and EntityTags.parse(value).matches_strongly(conversation)
    assert not EntityTags.parse(" " + value).matches_strongly(conversation)
