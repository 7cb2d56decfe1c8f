"""If-Match on update and delete: a stale tag gets 412 in every format (through the
official SDKs and plain HTTP), the header's forms, and two writers racing with one tag."""

import threading
from http import HTTPStatus

import httpx
import openai
import pytest
import telnyx
from django.db import connection

from conversations.domain.conditional import etag
from conversations.models import Conversation, MetadataChange
from conversations.services import conversation_metadata_merge
from tests.conditional.helpers import CMD, detail_urls


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
