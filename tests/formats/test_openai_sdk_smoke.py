import openai
import pytest


def test_sdk_creates_and_retrieves_conversation(openai_client):
    created = openai_client.conversations.create(metadata={"topic": "demo"})
    assert created.id.startswith("conv_") and len(created.id) == 37
    fetched = openai_client.conversations.retrieve(created.id)
    assert fetched.metadata == {"topic": "demo"}


def test_sdk_wrong_key_raises_authentication_error(live_server, db):
    client = openai.OpenAI(
        base_url=f"{live_server.url}/openai/v1", api_key="cs_wrong", max_retries=0
    )
    with pytest.raises(openai.AuthenticationError) as info:
        client.conversations.retrieve("conv_" + "0" * 32)
    assert info.value.code == "invalid_api_key"
