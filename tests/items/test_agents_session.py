"""The OpenAI Agents SDK's session memory (``agents.memory.OpenAIConversationsSession``, PyPI
``openai-agents``) works unchanged against convstore's OpenAI format, on a live server.

Two ``Runner.run`` turns use an offline scripted model: the first calls a tool after a
reasoning item; the second turn runs on a *new* session object with the same conversation id,
so the history its model sees can only come from the store."""

import asyncio

import pytest
from agents import Agent, OpenAIConversationsSession, Runner, function_tool, set_tracing_disabled
from agents.items import ModelResponse
from agents.models.interface import Model
from agents.usage import Usage
from openai import AsyncOpenAI
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseReasoningItem,
)
from openai.types.responses.response_reasoning_item import Summary

from conversations.models import Conversation, Message

#: The prefix the Responses API expects of a replayed item's id, by type.
ID_PREFIX = {"message": "msg_", "function_call": "fc_", "reasoning": "rs_"}
REASONING_ID = "rs_68af4030592c819d8b2bc4e9c6fa6e2c0f2b4e0b0e6d3a7f"


@pytest.fixture(autouse=True)
def no_tracing():
    set_tracing_disabled(True)


@pytest.fixture
def client_factory(live_server, api_key):
    """Make an ``AsyncOpenAI`` on the live server (inside the event loop that uses it)."""
    return lambda: AsyncOpenAI(
        base_url=f"{live_server.url}/openai/v1", api_key=api_key, max_retries=0
    )


def message(text: str, item_id: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id=item_id,
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
    )


class ScriptedModel(Model):
    """An offline model: answers each call with the next canned output, and records the
    input it was given."""

    def __init__(self, outputs):
        self.outputs, self.inputs = list(outputs), []

    async def get_response(self, system_instructions, input, *args, **kwargs):
        self.inputs.append(input if isinstance(input, str) else [dict(i) for i in input])
        return ModelResponse(output=self.outputs.pop(0), usage=Usage(), response_id=None)

    def stream_response(self, *args, **kwargs):  # pragma: no cover - not used
        raise NotImplementedError


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"18C in {city}"


def test_session_lazy_start_add_get_limit_pop_clear(client_factory):
    async def scenario():
        session = OpenAIConversationsSession(openai_client=client_factory())
        with pytest.raises(ValueError):
            session.session_id  # noqa: B018 - lazily started: no conversation yet
        await session.add_items([])
        assert await asyncio.to_thread(Conversation.objects.count) == 0
        assert await session.get_items() == []  # starts the conversation (items=[])
        conv_id = session.session_id
        items = [{"role": "user", "content": f"m{i}"} for i in range(25)]  # two requests
        await session.add_items(items)
        stored = await session.get_items()
        assert [i["content"][0]["text"] for i in stored] == [f"m{i}" for i in range(25)]
        assert all(i["id"].startswith("msg_") for i in stored)
        last3 = await session.get_items(limit=3)
        assert [i["content"][0]["text"] for i in last3] == ["m22", "m23", "m24"]
        popped = await session.pop_item()
        assert popped["content"][0]["text"] == "m24"
        assert len(await session.get_items()) == 24
        await session.clear_session()
        return conv_id

    conv_id = asyncio.run(scenario())
    assert conv_id.startswith("conv_")
    assert Conversation.objects.count() == 0 and Message.objects.count() == 0


def test_two_runner_turns_replay_the_stored_history_with_openai_ids(client_factory):
    model = ScriptedModel(
        [
            [
                ResponseReasoningItem(
                    id=REASONING_ID,
                    type="reasoning",
                    summary=[Summary(type="summary_text", text="Look up the weather.")],
                ),
                ResponseFunctionToolCall(
                    id="fc_68af4031aa2c819d8b2bc4e9c6fa6e2c0f2b4e0b0e6d3a7f",
                    type="function_call",
                    call_id="call_weather_1",
                    name="get_weather",
                    arguments='{"city":"Paris"}',
                    status="completed",
                ),
            ],
            [message("It is 18C in Paris.", "msg_68af4032bb")],
            [message("Tomorrow looks the same.", "msg_68af4033cc")],
        ]
    )
    agent = Agent(name="weather", instructions="Answer briefly.", model=model, tools=[get_weather])

    async def turns():
        first = OpenAIConversationsSession(openai_client=client_factory())
        result = await Runner.run(agent, "Weather in Paris?", session=first)
        assert result.final_output == "It is 18C in Paris."
        # A new session object on the same conversation: its history comes from the store.
        second = OpenAIConversationsSession(
            conversation_id=first.session_id, openai_client=client_factory()
        )
        result = await Runner.run(agent, "And tomorrow?", session=second)
        assert result.final_output == "Tomorrow looks the same."
        return await second.get_items()

    stored = asyncio.run(turns())
    replayed = model.inputs[2]
    kinds = [(i.get("type", "message"), i.get("role")) for i in replayed]
    assert kinds == [
        ("message", "user"),
        ("reasoning", None),
        ("function_call", None),
        ("function_call_output", None),
        ("message", "assistant"),
        ("message", "user"),
    ]
    reasoning, call, output = replayed[1], replayed[2], replayed[3]
    assert reasoning["id"] == REASONING_ID  # replayed by the id the model gave it
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Look up the weather."}]
    assert (call["call_id"], call["name"], call["arguments"]) == (
        "call_weather_1",
        "get_weather",
        '{"city":"Paris"}',
    )
    assert (output["call_id"], output["output"]) == ("call_weather_1", "18C in Paris")
    assert replayed[4]["content"][0]["text"] == "It is 18C in Paris."
    # Every id the model is handed has the prefix the Responses API checks for its type.
    for item in replayed:
        if "id" in item and item.get("type", "message") in ID_PREFIX:
            assert item["id"].startswith(ID_PREFIX[item.get("type", "message")]), item
    assert [i["type"] for i in stored] == [  # both turns, as stored
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
        "message",
        "message",
        "message",
    ]
    for item in stored:
        prefix = ID_PREFIX.get(item["type"])
        assert prefix is None or item["id"].startswith(prefix), item
