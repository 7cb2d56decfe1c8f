"""Azure OpenAI v1: ``AzureOpenAI`` with the ``api-key`` header, and per-user isolation."""

import openai
import pytest

from conversations.models import Conversation, MetadataChange


def test_azure_client_makes_every_call_with_the_api_key_header(azure_client_factory):
    azure = azure_client_factory()
    conv = azure.conversations.create(
        metadata={"topic": "billing"}, items=[{"role": "user", "content": "hi"}]
    )
    assert azure.conversations.retrieve(conv.id).metadata == {"topic": "billing"}
    assert azure.conversations.update(conv.id, metadata={"b": "2"}).metadata == {
        "topic": "billing",
        "b": "2",
    }
    items = azure.conversations.items.list(conv.id)
    assert items.data[0].content[0].text == "hi"
    response = azure.conversations.with_raw_response.retrieve(conv.id)
    assert response.headers["apim-request-id"] == response.headers["x-request-id"]
    assert set(MetadataChange.objects.values_list("source", flat=True)) == {"azure"}
    assert azure.conversations.delete(conv.id).deleted is True


def test_azure_wrong_key_raises_authentication_error(azure_client_factory):
    with pytest.raises(openai.AuthenticationError) as info:
        azure_client_factory(key="cs_wrong").conversations.create()
    assert info.value.code == "invalid_api_key"


def test_azure_endpoint_form_without_v1(live_server, api_key):
    azure = openai.AzureOpenAI(
        azure_endpoint=f"{live_server.url}/azure",
        api_key=api_key,
        api_version="2025-04-01-preview",
        max_retries=0,
    )
    conv = azure.conversations.create(metadata={"a": "1"})
    assert azure.conversations.retrieve(conv.id).metadata == {"a": "1"}


def test_isolation_key_partitions_conversations(azure_client_factory, openai_client):
    alice = azure_client_factory(isolation_key="alice")
    bob = azure_client_factory(isolation_key="bob")
    no_key = azure_client_factory()
    conv = alice.conversations.create(metadata={"owner": "alice"})
    assert Conversation.objects.get().isolation_key == "alice"
    for stranger in (bob, no_key, openai_client):
        with pytest.raises(openai.NotFoundError):
            stranger.conversations.retrieve(conv.id)
        with pytest.raises(openai.NotFoundError):
            stranger.conversations.update(conv.id, metadata={"owner": "mallory"})
        with pytest.raises(openai.NotFoundError):
            stranger.conversations.items.list(conv.id)
        with pytest.raises(openai.NotFoundError):
            stranger.conversations.delete(conv.id)
    assert alice.conversations.retrieve(conv.id).metadata == {"owner": "alice"}
    unkeyed = no_key.conversations.create()
    with pytest.raises(openai.NotFoundError):
        alice.conversations.retrieve(unkeyed.id)


def test_openai_format_honours_the_isolation_header_too(openai_client):
    conv = openai_client.conversations.create(
        metadata={"a": "1"}, extra_headers={"x-ms-user-isolation-key": "u1"}
    )
    with pytest.raises(openai.NotFoundError):
        openai_client.conversations.retrieve(conv.id)
    fetched = openai_client.conversations.retrieve(
        conv.id, extra_headers={"x-ms-user-isolation-key": "u1"}
    )
    assert fetched.metadata == {"a": "1"}
