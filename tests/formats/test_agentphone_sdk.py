"""The official ``agentphone`` SDK against a live convstore, through ``/agentphone``."""

import agentphone
import pytest
from django.utils.dateparse import parse_datetime

from conversations import services
from conversations.models import Conversation, MetadataChange
from conversations.services import Actor, MessageInput

OUR_NUMBER, THEIR_NUMBER = "+15551234567", "+15559876543"


@pytest.fixture
def client(live_server, api_key):
    with agentphone.AgentPhone(api_key=api_key, base_url=f"{live_server.url}/agentphone") as c:
        yield c


def make_conversation(project, *, metadata=None, texts=(), **context):
    context = {"phone_number": OUR_NUMBER, "participant": THEIR_NUMBER, "channel": "sms", **context}
    conversation = services.conversation_create(
        project=project, actor=Actor.for_command("tests"), metadata=metadata, **context
    )
    for index, text in enumerate(texts):
        direction = "inbound" if index % 2 == 0 else "outbound"
        services.messages_create(
            conversation=conversation,
            messages=[MessageInput(role="user", content=text, direction=direction)],
        )
    conversation.refresh_from_db()
    return conversation


def test_list_returns_newest_activity_first_with_total_and_preview(client, project):
    old = make_conversation(project, texts=["first"])
    new = make_conversation(project, texts=["hello", "latest words"])
    page = client.conversations.list(limit=20, offset=0)
    assert [c.id for c in page.data] == [f"conv_{new.id.hex}", f"conv_{old.id.hex}"]
    assert page.total == 2 and page.has_more is False
    top = page.data[0]
    assert top.last_message_preview == "latest words"
    assert top.phone_number == OUR_NUMBER and top.participant == THEIR_NUMBER
    assert top.message_count == 2 and top.channel == "sms"


def test_list_pages_with_limit_and_offset(client, project):
    made = [make_conversation(project, texts=[f"m{i}"]) for i in range(5)]
    expected = [f"conv_{c.id.hex}" for c in reversed(made)]
    first = client.conversations.list(limit=2, offset=0)
    second = client.conversations.list(limit=2, offset=2)
    last = client.conversations.list(limit=2, offset=4)
    assert [c.id for c in first.data + second.data + last.data] == expected
    assert (first.has_more, second.has_more, last.has_more) == (True, True, False)
    assert first.total == second.total == last.total == 5


def test_list_hides_other_projects(client, other_api_key, live_server, project):
    make_conversation(project, texts=["mine"])
    other = agentphone.AgentPhone(api_key=other_api_key, base_url=f"{live_server.url}/agentphone")
    assert other.conversations.list().total == 0


def test_get_returns_conversation_with_most_recent_messages(client, project):
    conversation = make_conversation(
        project, metadata={"customerName": "Jane"}, texts=["a", "b", "c"], agent_id="agt_1"
    )
    got = client.conversations.get(f"conv_{conversation.id.hex}", message_limit=2)
    assert got.metadata == {"customerName": "Jane"}
    assert got.agent_id == "agt_1" and got.message_count == 3
    assert [m.body for m in got.messages] == ["c", "b"]
    newest = got.messages[0]
    assert newest.direction == "inbound"
    assert (newest.from_number, newest.to_number) == (THEIR_NUMBER, OUR_NUMBER)
    assert newest.id.startswith("msg_") and len(newest.id) == 36


@pytest.mark.parametrize("form", ["hex", "dashed"])
def test_get_accepts_every_id_form(client, project, form):
    conversation = make_conversation(project)
    raw = conversation.id.hex if form == "hex" else str(conversation.id)
    assert client.conversations.get(raw).id == f"conv_{conversation.id.hex}"


@pytest.mark.parametrize("bad_id", ["conv_" + "0" * 32, "nope", "conv_xyz", "x" * 300])
def test_get_unknown_or_malformed_id_raises_not_found(client, project, bad_id):
    with pytest.raises(agentphone.NotFoundError) as info:
        client.conversations.get(bad_id)
    assert info.value.message == "Conversation not found"


def test_update_replaces_metadata_and_audits_as_agentphone(client, project):
    conversation = make_conversation(project, metadata={"a": "1", "b": "2"})
    updated = client.conversations.update(f"conv_{conversation.id.hex}", metadata={"c": "3"})
    assert updated.metadata == {"c": "3"}
    conversation.refresh_from_db()
    assert conversation.metadata == {"c": "3"}
    change = conversation.metadata_changes.first()
    assert (change.source, change.action) == ("agentphone", MetadataChange.Action.REPLACE)
    assert change.before == {"a": "1", "b": "2"}


def test_update_without_metadata_changes_nothing(client, project):
    conversation = make_conversation(project, metadata={"keep": "me"})
    updated = client.conversations.update(f"conv_{conversation.id.hex}")
    assert updated.metadata == {"keep": "me"}
    conversation.refresh_from_db()
    assert conversation.metadata == {"keep": "me"}
    assert conversation.metadata_changes.count() == 1  # only the creation


def test_update_with_empty_object_empties_metadata(client, project):
    conversation = make_conversation(project, metadata={"a": "1"})
    assert client.conversations.update(conversation.id.hex, metadata={}).metadata == {}


def test_update_group_name_leaves_metadata_alone(client, project):
    conversation = make_conversation(project, metadata={"a": "1"}, is_group=True)
    updated = client.conversations.update(conversation.id.hex, group_name="Team")
    assert updated.group_name == "Team" and updated.metadata == {"a": "1"}


def test_update_with_invalid_metadata_raises_422_and_keeps_metadata(client, project):
    conversation = make_conversation(project, metadata={"a": "1"})
    too_many = {f"k{i}": "v" for i in range(17)}
    with pytest.raises(agentphone.AgentPhoneError) as info:
        client.conversations.update(conversation.id.hex, metadata=too_many)
    assert info.value.status == 422
    assert info.value.message[0]["loc"] == ["body", "metadata"]
    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "1"}


def test_update_accepts_boolean_ai_disabled(client, project):
    conversation = make_conversation(project)
    updated = client.conversations.update(conversation.id.hex, metadata={"ai_disabled": True})
    assert updated.metadata == {"ai_disabled": "true"}
    conversation.refresh_from_db()
    assert conversation.ai_disabled is True


def test_get_messages_pages_backwards_with_before_cursor(client, project):
    conversation = make_conversation(project, texts=[f"m{i}" for i in range(7)])
    bodies, before = [], None
    for _ in range(10):
        page = client.conversations.get_messages(conversation.id.hex, limit=3, before=before)
        bodies += [m.body for m in page.data]
        if not page.has_more:
            break
        before = page.data[-1].received_at
    assert bodies == [f"m{i}" for i in reversed(range(7))]


def test_get_messages_pages_forward_with_after_cursor(client, project):
    conversation = make_conversation(project, texts=[f"m{i}" for i in range(5)])
    first = conversation.messages.order_by("id").first()
    after = first.created_at.isoformat()
    page = client.conversations.get_messages(conversation.id.hex, limit=2, after=after)
    assert [m.body for m in page.data] == ["m1", "m2"] and page.has_more
    page = client.conversations.get_messages(
        conversation.id.hex, limit=2, after=page.data[-1].received_at
    )
    assert [m.body for m in page.data] == ["m3", "m4"] and not page.has_more


def test_get_messages_of_one_batch_pages_without_losing_any(client, project):
    conversation = make_conversation(project)
    services.messages_create(
        conversation=conversation,
        messages=[MessageInput(role="user", content=f"b{i}") for i in range(6)],
    )
    bodies, before = [], None
    while True:
        page = client.conversations.get_messages(conversation.id.hex, limit=4, before=before)
        bodies += [m.body for m in page.data]
        if not page.has_more:
            break
        before = page.data[-1].received_at
    assert sorted(bodies) == [f"b{i}" for i in range(6)] and len(bodies) == 6


def test_get_messages_limit_above_200_raises_422(client, project):
    conversation = make_conversation(project)
    with pytest.raises(agentphone.AgentPhoneError) as info:
        client.conversations.get_messages(conversation.id.hex, limit=201)
    assert info.value.status == 422
    assert info.value.message[0]["loc"] == ["query", "limit"]


def test_wrong_key_raises_authentication_error(live_server, db):
    bad = agentphone.AgentPhone(api_key="cs_wrong", base_url=f"{live_server.url}/agentphone")
    with pytest.raises(agentphone.AuthenticationError) as info:
        bad.conversations.list()
    assert info.value.message == "Invalid API key"


def test_openai_conversation_is_read_and_replaced_here_then_read_by_openai(client, openai_client):
    created = openai_client.conversations.create(
        metadata={"topic": "billing", "tier": "gold"},
        items=[{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello"}],
    )
    got = client.conversations.get(created.id)
    assert got.id == created.id
    assert got.metadata == {"topic": "billing", "tier": "gold"}
    assert [m.body for m in got.messages] == ["Hello", "Hi there"]
    assert [m.direction for m in got.messages] == ["outbound", "inbound"]
    client.conversations.update(created.id, metadata={"topic": "support"})
    assert openai_client.conversations.retrieve(created.id).metadata == {"topic": "support"}


def test_conversation_from_another_path_is_read_and_replaced_here(client, project):
    conversation = services.conversation_create(
        project=project,
        actor=Actor.for_command("telnyx-import"),
        metadata={"telnyx_conversation_channel": "sms_chat"},
        messages=[MessageInput(role="assistant", content="Your order shipped")],
        phone_number=OUR_NUMBER,
        participant=THEIR_NUMBER,
    )
    got = client.conversations.get(str(conversation.id))
    message = got.messages[0]
    assert (message.from_number, message.to_number) == (OUR_NUMBER, THEIR_NUMBER)
    client.conversations.update(str(conversation.id), metadata={"handoff": "human"})
    conversation.refresh_from_db()
    assert conversation.metadata == {"handoff": "human"}
    assert list(conversation.metadata_changes.values_list("source", flat=True)) == [
        "agentphone",
        "command",
    ]


def test_conversation_in_another_isolation_partition_is_not_found(client, project):
    conversation = services.conversation_create(
        project=project, actor=Actor.for_command("tests"), isolation_key="user-42"
    )
    with pytest.raises(agentphone.NotFoundError):
        client.conversations.get(conversation.id.hex)
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_received_at_is_iso_8601_utc(client, project):
    conversation = make_conversation(project, texts=["x"])
    message = client.conversations.get_messages(conversation.id.hex).data[0]
    stored = conversation.messages.get().created_at
    assert message.received_at.endswith("Z")
    assert parse_datetime(message.received_at) == stored
