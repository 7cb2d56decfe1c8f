"""The AI switch on the Telnyx chat endpoint, flipped through every path that can flip it."""

import uuid

import pytest
import telnyx

from conversations import services
from conversations.models import Conversation, Message, MetadataChange


@pytest.fixture
def client(live_server, api_key):
    return telnyx.Telnyx(api_key=api_key, base_url=f"{live_server.url}/telnyx/v2", max_retries=0)


@pytest.fixture(autouse=True)
def echo_responder(settings):
    settings.CONVSTORE_CHAT_RESPONDER = "conversations.formats.telnyx.responders.echo"


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user("support", password="x", is_staff=True)


def _switch(how, *, telnyx_client, openai_client, staff_user, conversation_id, disabled):
    if how == "telnyx":
        telnyx_client.ai.conversations.update(conversation_id, metadata={"ai_disabled": disabled})
    elif how == "openai":
        openai_client.conversations.update(
            "conv_" + uuid.UUID(conversation_id).hex,
            metadata={"ai_disabled": "true" if disabled else "false"},
        )
    else:
        services.conversation_ai_set(
            conversation=Conversation.objects.get(pk=conversation_id),
            disabled=disabled,
            actor=services.Actor.for_staff(staff_user),
        )


@pytest.mark.parametrize("how", ["telnyx", "openai", "admin"])
def test_chat_is_refused_and_stores_nothing_while_ai_is_off(how, client, openai_client, staff_user):
    conversation_id = client.ai.conversations.create(name="takeover").id
    switch = dict(
        telnyx_client=client,
        openai_client=openai_client,
        staff_user=staff_user,
        conversation_id=conversation_id,
    )
    _switch(how, **switch, disabled=True)

    with pytest.raises(telnyx.BadRequestError) as info:
        client.ai.assistants.chat("assistant-1", content="hi", conversation_id=conversation_id)
    assert info.value.body == {
        "errors": [
            {
                "code": "10015",
                "title": "Bad Request",
                "detail": "AI responses are disabled for this conversation "
                "(metadata.ai_disabled=true)",
                "source": {"pointer": "/conversation_id"},
            }
        ]
    }
    assert not Message.objects.filter(conversation_id=conversation_id).exists()
    flip = MetadataChange.objects.filter(conversation_id=conversation_id).first()
    assert flip.source == {"telnyx": "telnyx", "openai": "openai", "admin": "admin"}[how]

    # A person can still write while the AI is off.
    client.ai.conversations.add_message(conversation_id, role="assistant", content="human here")
    assert Message.objects.filter(conversation_id=conversation_id).count() == 1

    _switch(how, **switch, disabled=False)
    reply = client.ai.assistants.chat("assistant-1", content="hi", conversation_id=conversation_id)
    assert reply.content == "You said: hi"
    assert Message.objects.filter(conversation_id=conversation_id).count() == 3


def test_chat_accepts_the_openai_id_form(client, openai_client):
    conversation = openai_client.conversations.create(metadata={"topic": "x"})
    reply = client.ai.assistants.chat("a", content="yo", conversation_id=conversation.id)
    assert reply.content == "You said: yo"
    items = openai_client.conversations.items.list(conversation.id, order="asc")
    assert [item.content[0].text for item in items] == ["yo", "You said: yo"]


def test_conversation_from_openai_is_listed_updated_and_read_back(client, openai_client):
    conversation = openai_client.conversations.create(
        metadata={"telnyx_conversation_channel": "web_chat", "customer": "Jane"}
    )
    client.ai.conversations.create(metadata={"telnyx_conversation_channel": "phone_call"})

    found = client.ai.conversations.list(metadata_telnyx_conversation_channel="eq.web_chat")
    assert [c.id for c in found.data] == [str(uuid.UUID(conversation.id[5:]))]

    client.ai.conversations.update(
        found.data[0].id, metadata={"order_id": "ORD-1", "customer": None}
    )
    assert openai_client.conversations.retrieve(conversation.id).metadata == {
        "telnyx_conversation_channel": "web_chat",
        "order_id": "ORD-1",
    }


def test_responder_failure_stores_nothing(client, settings):
    settings.CONVSTORE_CHAT_RESPONDER = "tests.formats.test_telnyx_ai_switch.broken_responder"
    conversation_id = client.ai.conversations.create().id
    with pytest.raises(telnyx.InternalServerError) as info:
        client.ai.assistants.chat("a", content="hi", conversation_id=conversation_id)
    assert info.value.status_code == 502
    assert not Message.objects.filter(conversation_id=conversation_id).exists()


def broken_responder(conversation, message):
    raise RuntimeError("model unavailable")


def test_unimportable_responder_answers_501(client, settings):
    settings.CONVSTORE_CHAT_RESPONDER = "conversations.no_such_module.reply"
    conversation_id = client.ai.conversations.create().id
    with pytest.raises(telnyx.APIStatusError) as info:
        client.ai.assistants.chat("a", content="hi", conversation_id=conversation_id)
    assert info.value.status_code == 501
    assert "conversations.formats.telnyx.responders.echo" in info.value.body["errors"][0]["detail"]
    assert not Message.objects.filter(conversation_id=conversation_id).exists()


def test_ai_off_answers_400_even_without_a_responder(client, settings):
    settings.CONVSTORE_CHAT_RESPONDER = ""
    conversation_id = client.ai.conversations.create(metadata={"ai_disabled": "true"}).id
    with pytest.raises(telnyx.BadRequestError):
        client.ai.assistants.chat("a", content="hi", conversation_id=conversation_id)
