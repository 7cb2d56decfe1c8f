"""``POST /conversations`` takes ``items: []`` or no ``items``; ``POST …/items`` takes 1–20.

OpenAI's create documents ``items`` as optional, "up to 20" initial items with no minimum,
and both Agents SDKs open a session with ``conversations.create(items=[])``; adding items
keeps the 1–20 rule (``providers/openai-azure.md`` §2).
"""

import openai
import pytest

from conversations.models import Conversation


def test_create_with_empty_items_and_without_items(any_openai_client):
    empty = any_openai_client.conversations.create(items=[])
    bare = any_openai_client.conversations.create()
    assert empty.id.startswith("conv_") and bare.id.startswith("conv_")
    for conv in (empty, bare):
        assert any_openai_client.conversations.items.list(conv.id).data == []
    assert Conversation.objects.count() == 2


def test_adding_no_items_is_still_empty_array(any_openai_client):
    conv = any_openai_client.conversations.create(items=[])
    with pytest.raises(openai.BadRequestError) as info:
        any_openai_client.conversations.items.create(conv.id, items=[])
    assert (info.value.code, info.value.param) == ("empty_array", "items")


def test_twenty_one_items_on_create_are_too_many(any_openai_client):
    with pytest.raises(openai.BadRequestError) as info:
        any_openai_client.conversations.create(
            items=[{"role": "user", "content": str(i)} for i in range(21)]
        )
    assert (info.value.code, info.value.param) == ("array_above_max_length", "items")
    assert Conversation.objects.count() == 0
