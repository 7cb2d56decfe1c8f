"""A conversation holding every kind of OpenAI item stays valid for the other formats: Telnyx
lists its messages and tool calls (in Telnyx's tool-call shape), AgentPhone and the webhooks
its messages, each through its official SDK or envelope; export/import carries every item
byte for byte."""

import json
from io import StringIO

import agentphone
import pytest
import telnyx
from django.core.management import call_command

from conversations.models import Message, WebhookEvent
from conversations.webhooks.endpoints import webhook_endpoint_create

from .samples import SAMPLES

ITEMS = [
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
    {**SAMPLES["reasoning"], "id": "rs_turn1"},
    SAMPLES["web_search_call"],
    {
        "type": "function_call",
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    },
    {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
    SAMPLES["custom_tool_call"],
    {**SAMPLES["custom_tool_call_output"], "output": [{"type": "input_text", "text": "Done."}]},
    {"type": "message", "role": "assistant", "content": "It is 18C."},
]


@pytest.fixture
def run():
    def run(*args):
        call_command(*args, stdout=StringIO(), stderr=StringIO())

    return run


@pytest.fixture
def conv(openai_client):
    return openai_client.conversations.create(items=ITEMS)


def test_telnyx_lists_messages_and_tool_calls_and_leaves_other_items_out(
    conv, live_server, api_key
):
    client = telnyx.Telnyx(api_key=api_key, base_url=f"{live_server.url}/telnyx/v2", max_retries=0)
    page = client.ai.conversations.messages.list(conv.id)
    listed = [(m.role, m.text) for m in page.data]
    assert listed == [
        ("user", "Weather?"),
        ("assistant", ""),
        ("tool", "18C"),
        ("assistant", ""),
        ("tool", "Done."),
        ("assistant", "It is 18C."),
    ]
    assert page.meta.total_results == 6
    call = page.data[1].tool_calls[0]
    assert (call.id, call.type, call.function.name, call.function.arguments) == (
        "call_1",
        "function",
        "get_weather",
        '{"city":"Paris"}',
    )
    custom = page.data[3].tool_calls[0]
    assert (custom.id, custom.function.name) == ("call_ctc", "apply_patch")
    assert custom.function.arguments == SAMPLES["custom_tool_call"]["input"]
    assert page.data[0].tool_calls is None


def test_agentphone_shows_the_messages_only(conv, live_server, api_key):
    with agentphone.AgentPhone(api_key=api_key, base_url=f"{live_server.url}/agentphone") as c:
        got = c.conversations.get(conv.id, message_limit=50)
        assert [m.body for m in got.messages] == ["It is 18C.", "Weather?"]
        assert all(m.id.startswith("msg_") for m in got.messages)
        page = c.conversations.get_messages(conv.id, limit=50)
        assert [m.body for m in page.data] == ["It is 18C.", "Weather?"]
        assert page.has_more is False


def test_webhooks_carry_messages_only(openai_client, project, settings):
    settings.CONVSTORE_WEBHOOK_ALLOW_PRIVATE = True  # the endpoint is never called here
    webhook_endpoint_create(project=project, url="http://127.0.0.1:9/hook", context_limit=10)
    conv = openai_client.conversations.create(items=[])
    openai_client.conversations.items.create(conv.id, items=ITEMS)
    events = WebhookEvent.objects.filter(event_type="agent.message").order_by("id")
    assert [e.payload["data"]["message"] for e in events] == ["Weather?", "It is 18C."]
    history = events.last().payload["recentHistory"]
    assert [h["content"] for h in history] == ["Weather?"]


def test_export_import_carries_every_item_type_byte_for_byte(openai_client, tmp_path, run):
    items = list(SAMPLES.values())
    conv = openai_client.conversations.create(items=[])
    for start in range(0, len(items), 20):
        openai_client.conversations.items.create(conv.id, items=items[start : start + 20])
    openai_client.conversations.items.create(
        conv.id, items=[{**SAMPLES["reasoning"], "id": "rs_kept"}]
    )
    before = openai_client.conversations.items.with_raw_response.list(
        conv.id, order="asc", limit=100, include=["reasoning.encrypted_content"]
    ).http_response.content
    exported = tmp_path / "out.jsonl"
    run("export_conversations", "--output", str(exported))
    line = exported.read_text()
    Message.objects.all().delete()
    run("import_conversations", str(exported))
    after = openai_client.conversations.items.with_raw_response.list(
        conv.id, order="asc", limit=100, include=["reasoning.encrypted_content"]
    ).http_response.content
    # Field for field (the order of an object's keys is PostgreSQL jsonb's own there).
    assert json.loads(after)["data"] == json.loads(before)["data"]
    run("export_conversations", "--output", str(tmp_path / "again.jsonl"))
    assert (tmp_path / "again.jsonl").read_text() == line
