"""Every type of the Conversations item union round-trips through the ``openai`` SDK as sent,
with the id prefix of its type; sent ids, duplicates, wrong prefixes, malformed items,
``include`` and ``item_reference`` behave as ``docs/agents-sdk.md`` says."""

import copy

import openai
import pytest

from conversations.models import Message

from .samples import GOVERNED, PREFIXES, SAMPLES

ALL = list(GOVERNED) + ["web_search_call.results"]
#: Types whose ConversationItem model requires ``status``: returned as ``completed`` if unsent.
STATUS_TYPES = {
    "message", "function_call", "function_call_output", "file_search_call", "web_search_call",
    "image_generation_call", "computer_call", "computer_call_output", "tool_search_call",
    "tool_search_output", "program_output", "code_interpreter_call", "local_shell_call",
    "shell_call", "shell_call_output", "apply_patch_call", "apply_patch_call_output",
}  # fmt: skip


def raw_create(client, conv_id, items, include=ALL):
    response = client.conversations.items.with_raw_response.create(
        conv_id, items=items, include=include
    )
    return response.parse(), response.http_response.json()


def strip(item: dict, path: tuple) -> dict:
    """``item`` less the governed field at ``path`` (``GOVERNED`` form, type first)."""
    item = copy.deepcopy(item)
    if path[0] != item["type"]:
        return item
    if path[1] == "content":
        for part in item["content"]:
            if part["type"] == path[2]:
                part.pop(path[3], None)
        return item
    target = item
    for key in path[1:-1]:
        target = target.get(key, {})
    target.pop(path[-1], None)
    return item


def expected(sample: dict, item_id: str) -> dict:
    want = {**copy.deepcopy(sample), "id": item_id}
    if sample["type"] in STATUS_TYPES:
        want.setdefault("status", "completed")
    return want


@pytest.fixture
def conv(openai_client):
    return openai_client.conversations.create(items=[])


@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_item_type_comes_back_as_sent_with_its_prefix(openai_client, conv, name):
    sample = SAMPLES[name]
    parsed, body = raw_create(openai_client, conv.id, [sample])
    item = body["data"][0]
    assert item["id"].startswith(PREFIXES[sample["type"]])
    assert len(item["id"]) == len(PREFIXES[sample["type"]]) + 32
    assert item == expected(sample, item["id"])
    # The SDK parses it as its own type, and model_dump — what the Agents SDK stores and
    # replays — gives back exactly the JSON.
    assert parsed.data[0].type == sample["type"]
    assert parsed.data[0].model_dump(exclude_unset=True) == item
    listed = openai_client.conversations.items.list(conv.id, include=ALL)
    assert [i.model_dump(exclude_unset=True) for i in listed.data] == [item]
    got = openai_client.conversations.items.retrieve(
        item["id"], conversation_id=conv.id, include=ALL
    )
    assert got.model_dump(exclude_unset=True) == item


@pytest.mark.parametrize("name", list(SAMPLES))
def test_a_sent_id_of_the_right_prefix_is_kept(openai_client, conv, name):
    sample = SAMPLES[name]
    item_id = PREFIXES[sample["type"]] + "68af4030592c819d8b2bc4e9c6fa6e2c0f2b4e0b0e6d3a7f"
    _, body = raw_create(openai_client, conv.id, [{**sample, "id": item_id}])
    assert body["data"][0] == expected(sample, item_id)
    got = openai_client.conversations.items.retrieve(item_id, conversation_id=conv.id, include=ALL)
    assert got.id == item_id
    openai_client.conversations.items.delete(item_id, conversation_id=conv.id)
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("item", "prefix"),
    [
        ({"type": "reasoning", "summary": [], "id": "msg_123"}, "rs"),
        (
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}", "id": "rs_1"},
            "fc",
        ),
        ({"type": "message", "role": "user", "content": "hi", "id": "fc_1"}, "msg"),
        (
            {"type": "custom_tool_call", "call_id": "c", "name": "f", "input": "", "id": "fc_1"},
            "ctc",
        ),
        ({"type": "web_search_call", "status": "completed", "action": {}, "id": "item_1"}, "ws"),
        ({"type": "file_search_call", "status": "completed", "queries": [], "id": "x"}, "fs"),
    ],
)
def test_a_sent_id_of_another_prefix_is_refused_like_openai(openai_client, conv, item, prefix):
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.conversations.items.create(
            conv.id, items=[{"role": "user", "content": "a"}, item]
        )
    assert (info.value.code, info.value.param) == ("invalid_value", "items[1].id")
    assert info.value.body["message"] == (
        f"Invalid 'items[1].id': '{item['id']}'. Expected an ID that begins with '{prefix}'."
    )
    assert not Message.objects.exists()


def test_duplicate_ids_are_refused_in_a_batch_and_against_the_conversation(openai_client, conv):
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": []}
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.conversations.items.create(conv.id, items=[reasoning, reasoning])
    assert (info.value.param, info.value.code) == ("items[1].id", None)
    assert info.value.body["message"] == (
        "Duplicate item found with id rs_1. Remove duplicate items from your input and try again."
    )
    assert not Message.objects.exists()
    openai_client.conversations.items.create(conv.id, items=[reasoning])
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.conversations.items.create(
            conv.id, items=[{"role": "user", "content": "x"}, reasoning]
        )
    assert info.value.param == "items[1].id"
    issued = (
        openai_client.conversations.items.create(conv.id, items=[{"role": "user", "content": "x"}])
        .data[0]
        .id
    )
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.conversations.items.create(
            conv.id, items=[{"role": "user", "content": "y", "id": issued}]
        )
    assert info.value.param == "items[0].id"
    assert Message.objects.count() == 2
    # Ids are unique per conversation: another conversation may hold the same one.
    other = openai_client.conversations.create(items=[reasoning])
    assert openai_client.conversations.items.list(other.id).data[0].id == "rs_1"
    copied = {"role": "user", "content": "z", "id": issued}  # an id issued in `conv`
    assert openai_client.conversations.items.create(other.id, items=[copied]).data[0].id == issued


@pytest.mark.parametrize(
    ("item", "code", "param"),
    [
        (
            {"type": "function_call", "name": "f", "arguments": "{}"},
            "missing_required_parameter",
            "items[0].call_id",
        ),
        (
            {"type": "function_call", "call_id": 7, "name": "f", "arguments": "{}"},
            "invalid_type",
            "items[0].call_id",
        ),
        (
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": {}},
            "invalid_type",
            "items[0].arguments",
        ),
        (
            {"type": "function_call_output", "call_id": "c"},
            "missing_required_parameter",
            "items[0].output",
        ),
        (
            {"type": "function_call_output", "call_id": "c", "output": 5},
            "invalid_type",
            "items[0].output",
        ),
        ({"type": "reasoning"}, "missing_required_parameter", "items[0].summary"),
        ({"type": "reasoning", "summary": "x"}, "invalid_type", "items[0].summary"),
        (
            {"type": "computer_call_output", "call_id": "c", "output": "png"},
            "invalid_type",
            "items[0].output",
        ),
        (
            {"type": "mcp_approval_response", "approval_request_id": "r", "approve": "yes"},
            "invalid_type",
            "items[0].approve",
        ),
        (
            {"type": "local_shell_call", "call_id": "c", "status": "completed"},
            "missing_required_parameter",
            "items[0].action",
        ),
        ({"type": "telepathy_call"}, "invalid_value", "items[0].type"),
        ({"type": 3}, "invalid_type", "items[0].type"),
        ({"type": "reasoning", "summary": [], "id": 5}, "invalid_type", "items[0].id"),
        (
            {"type": "reasoning", "summary": [], "id": "rs_" + "a" * 200},
            "invalid_value",
            "items[0].id",
        ),
        ({"type": "reasoning", "summary": [], "status": 1}, "invalid_type", "items[0].status"),
        ({"type": "item_reference", "id": "msg_nowhere"}, "invalid_value", "items[0].id"),
    ],
)
def test_a_malformed_item_gets_openais_400_with_its_param(openai_client, conv, item, code, param):
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.conversations.items.create(conv.id, items=[item])
    assert (info.value.code, info.value.param) == (code, param)
    assert info.value.body["type"] == "invalid_request_error"
    assert not Message.objects.exists()


def test_the_same_checks_apply_on_create(openai_client):
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.conversations.create(
            items=[{"role": "user", "content": "a"}, {"type": "reasoning"}]
        )
    assert (info.value.code, info.value.param) == ("missing_required_parameter", "items[1].summary")


@pytest.mark.parametrize("value", list(GOVERNED))
def test_a_governed_field_is_returned_only_when_included(openai_client, conv, value):
    path = GOVERNED[value]
    sample = next(s for s in SAMPLES.values() if s["type"] == path[0] and strip(s, path) != s)
    _, created = raw_create(openai_client, conv.id, [sample], include=[])
    item = created["data"][0]
    assert item == strip(expected(sample, item["id"]), path)
    for include, want in (
        ([], strip(expected(sample, item["id"]), path)),
        ([value], expected(sample, item["id"])),
    ):
        listed = openai_client.conversations.items.with_raw_response.list(conv.id, include=include)
        assert listed.http_response.json()["data"] == [want]
        got = openai_client.conversations.items.with_raw_response.retrieve(
            item["id"], conversation_id=conv.id, include=include
        )
        assert got.http_response.json() == want
    # Stored whole all along.
    assert Message.objects.get().payload or Message.objects.get().content_parts


@pytest.mark.parametrize("method", ["list", "retrieve", "create"])
def test_an_unknown_include_value_is_invalid_value(openai_client, conv, method):
    item_id = (
        openai_client.conversations.items.create(conv.id, items=[{"role": "user", "content": "a"}])
        .data[0]
        .id
    )
    calls = {
        "list": lambda: openai_client.conversations.items.list(
            conv.id, include=["message.everything"]
        ),
        "retrieve": lambda: openai_client.conversations.items.retrieve(
            item_id, conversation_id=conv.id, include=["message.everything"]
        ),
        "create": lambda: openai_client.conversations.items.create(
            conv.id, items=[{"role": "user", "content": "b"}], include=["message.everything"]
        ),
    }
    with pytest.raises(openai.BadRequestError) as info:
        calls[method]()
    assert (info.value.code, info.value.param) == ("invalid_value", "include")
    assert Message.objects.count() == 1


def test_an_item_reference_stores_a_copy_of_the_named_item(openai_client, conv):
    sample = SAMPLES["reasoning"]
    first = openai_client.conversations.create(items=[{**sample, "id": "rs_original"}])
    _, body = raw_create(openai_client, conv.id, [{"type": "item_reference", "id": "rs_original"}])
    copied = body["data"][0]
    assert copied["id"].startswith("rs_") and copied["id"] != "rs_original"
    assert copied == expected(sample, copied["id"])
    assert openai_client.conversations.items.list(first.id).data[0].id == "rs_original"


def test_a_string_content_message_is_stored_as_one_text_part(openai_client, conv):
    _, body = raw_create(
        openai_client,
        conv.id,
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello", "phase": "final_answer"},
        ],
    )
    user, assistant = body["data"]
    assert user["content"] == [{"type": "input_text", "text": "hi"}]
    assert assistant["content"] == [{"type": "output_text", "text": "hello", "annotations": []}]
    assert assistant["phase"] == "final_answer"
    assert (user["type"], user["status"]) == ("message", "completed")


def test_an_item_over_the_size_limit_is_refused(openai_client, conv, settings):
    settings.CONVSTORE_MAX_MESSAGE_BYTES = 1000
    item = {"type": "reasoning", "summary": [], "encrypted_content": "x" * 2000}
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.conversations.items.create(conv.id, items=[item])
    assert (info.value.code, info.value.param) == ("invalid_value", "items[0]")
    assert "item too large" in info.value.body["message"]


def test_include_is_also_accepted_without_brackets(openai_client, conv, http):
    openai_client.conversations.items.create(conv.id, items=[SAMPLES["reasoning"]])
    path = f"/openai/v1/conversations/{conv.id}/items"
    bare = http.get(path).json()["data"][0]
    assert "encrypted_content" not in bare
    included = http.get(path, params={"include": "reasoning.encrypted_content"}).json()["data"][0]
    assert included["encrypted_content"] == SAMPLES["reasoning"]["encrypted_content"]
    assert http.get(path, params={"include": "nope"}).json()["error"]["param"] == "include"


def test_a_telnyx_message_shows_no_telnyx_fields_on_the_openai_format(
    openai_client, conv, telnyx_client
):
    telnyx_client.ai.conversations.add_message(
        conv.id, role="user", content="from telnyx", tool_choice="auto"
    )
    item = openai_client.conversations.items.with_raw_response.list(conv.id).http_response.json()
    assert item["data"][0] == {
        "type": "message",
        "id": item["data"][0]["id"],
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_text", "text": "from telnyx"}],
    }
