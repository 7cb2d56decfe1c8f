"""No response passes ``CONVSTORE_MAX_RESPONSE_BYTES``; pages stop early and say there is more.

Before: one GET of items/messages returned every stored message of the page whatever its
size (99 MiB for 100 messages of 1 MiB) and grew the worker by the same. Now each format
stops a page at the budget in its own paging terms, and the official SDKs, paging as they
do, still see every message exactly once:

- OpenAI/Azure: ``has_more`` true, continue ``after=last_id``;
- Telnyx messages: the page size shrinks (``meta.page_size``, ``total_pages``) so numbered
  pages stay consistent; conversation list: ``Content-Range`` ends early, go on by offset;
- AgentPhone: ``hasMore`` (messages, conversations); a conversation GET carries fewer than
  ``message_limit`` messages.
"""

import http.client
import json
import tracemalloc
from urllib.parse import urlsplit

import agentphone
import pytest
import telnyx

from conversations.domain.ids import prefixed
from conversations.domain.limits import ITEM_OVERHEAD_BYTES
from conversations.services import SYSTEM, MessageInput, conversation_create

BUDGET = 64 * 1024
TEXT = 10_000  # each message: ~10 KB stored + 4 KiB overhead → 4 fit in 64 KiB
COUNT = 30


@pytest.fixture
def budget(settings):
    settings.CONVSTORE_MAX_RESPONSE_BYTES = BUDGET


@pytest.fixture
def big_conversation(project, budget):
    messages = [
        MessageInput(role="user" if i % 2 else "assistant", content=f"{i:04d}" + "x" * TEXT)
        for i in range(COUNT)
    ]
    return conversation_create(project=project, actor=SYSTEM, messages=messages)


def get(live_server, path, api_key):
    url = urlsplit(live_server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {api_key}"})
        response = conn.getresponse()
        raw = response.read()
        return response.status, dict(response.getheaders()), raw
    finally:
        conn.close()


def numbers(texts):
    return [int(text[:4]) for text in texts]


def test_openai_pages_stop_at_the_budget_and_the_sdk_sees_every_item(
    live_server, api_key, big_conversation, openai_client
):
    conv = prefixed(big_conversation.id, "conv")
    status, _, raw = get(live_server, f"/openai/v1/conversations/{conv}/items?limit=100", api_key)
    page = json.loads(raw)
    assert status == 200 and len(raw) <= BUDGET
    assert 1 <= len(page["data"]) < COUNT and page["has_more"] is True
    assert page["last_id"] == page["data"][-1]["id"]
    seen = [
        item.content[0].text
        for item in openai_client.conversations.items.list(conv, limit=100, order="asc")
    ]
    assert numbers(seen) == list(range(COUNT))


def test_telnyx_pages_shrink_to_the_budget_and_the_sdk_sees_every_message(
    live_server, api_key, big_conversation
):
    path = f"/telnyx/v2/ai/conversations/{big_conversation.id}/messages?page[size]=100"
    status, _, raw = get(live_server, path, api_key)
    page = json.loads(raw)
    assert status == 200 and len(raw) <= BUDGET
    size = page["meta"]["page_size"]
    assert size == BUDGET // (big_conversation.messages.first().size_bytes + ITEM_OVERHEAD_BYTES)
    assert len(page["data"]) == size
    assert page["meta"]["total_pages"] == -(-COUNT // size)
    assert page["meta"]["total_results"] == COUNT
    client = telnyx.Telnyx(api_key=api_key, base_url=f"{live_server.url}/telnyx/v2", max_retries=0)
    seen = [m.text for m in client.ai.conversations.messages.list(str(big_conversation.id),
                                                                  page_size=100)]  # fmt: skip
    assert numbers(seen) == list(range(COUNT))


def test_agentphone_messages_and_detail_stop_at_the_budget(live_server, api_key, big_conversation):
    conv = prefixed(big_conversation.id, "conv")
    status, _, raw = get(live_server, f"/agentphone/v1/conversations/{conv}/messages?limit=200",
                         api_key)  # fmt: skip
    assert status == 200 and len(raw) <= BUDGET
    assert json.loads(raw)["hasMore"] is True
    status, _, raw = get(live_server, f"/agentphone/v1/conversations/{conv}?message_limit=100",
                         api_key)  # fmt: skip
    detail = json.loads(raw)
    assert status == 200 and len(raw) <= BUDGET
    assert 1 <= len(detail["messages"]) < COUNT and detail["messageCount"] == COUNT
    with agentphone.AgentPhone(api_key=api_key, base_url=f"{live_server.url}/agentphone") as c:
        seen, before = [], None
        while True:
            page = c.conversations.get_messages(conv, limit=200, before=before)
            seen.extend(m.body for m in page.data)
            if not page.has_more:
                break
            before = page.data[-1].received_at
    assert numbers(seen) == list(reversed(range(COUNT)))


@pytest.fixture
def wide_conversations(project, budget):
    """25 conversations of 16 × 512-character values (~9 KB each rendered)."""
    for n in range(25):
        metadata = {f"k{i:02d}": f"{n:03d}" + "v" * 509 for i in range(16)}
        conversation_create(project=project, actor=SYSTEM, metadata=metadata)


def test_conversation_lists_stop_at_the_budget_and_page_on(
    live_server, api_key, wide_conversations
):
    # AgentPhone: hasMore, and offset + len(data) goes on.
    seen, offset = set(), 0
    while True:
        status, _, raw = get(live_server, f"/agentphone/v1/conversations?limit=100&offset={offset}",
                             api_key)  # fmt: skip
        page = json.loads(raw)
        assert status == 200 and len(raw) <= BUDGET
        assert page["total"] == 25
        seen.update(item["id"] for item in page["data"])
        offset += len(page["data"])
        if not page["hasMore"]:
            break
        assert len(page["data"]) < 25
    assert len(seen) == 25
    # Telnyx: Content-Range ends early, offset=<end + 1> goes on.
    seen, offset = set(), 0
    for _ in range(25):
        status, headers, raw = get(live_server, f"/telnyx/v2/ai/conversations?offset={offset}",
                                   api_key)  # fmt: skip
        data = json.loads(raw)["data"]
        assert status == 200 and len(raw) <= BUDGET
        if not data:
            assert headers["Content-Range"] == "*/*"
            break
        assert headers["Content-Range"] == f"{offset}-{offset + len(data) - 1}/*"
        seen.update(item["id"] for item in data)
        offset += len(data)
    assert len(seen) == 25


@pytest.mark.django_db
def test_a_page_of_large_messages_never_sits_whole_in_memory(client, api_key, project, settings):
    """40 messages of ~200 KB (8 MB): the worker holds about one 1 MiB page, not 8 MB."""
    settings.CONVSTORE_MAX_RESPONSE_BYTES = 1024 * 1024
    conversation = conversation_create(
        project=project, actor=SYSTEM,
        messages=[MessageInput(role="user", content="y" * 200_000) for _ in range(40)],
    )  # fmt: skip
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    conv = prefixed(conversation.id, "conv")
    for path in (
        f"/openai/v1/conversations/{conv}/items?limit=100",
        f"/agentphone/v1/conversations/{conv}/messages?limit=200",
        f"/agentphone/v1/conversations/{conv}?message_limit=100",
        f"/telnyx/v2/ai/conversations/{conversation.id}/messages?page[size]=100",
    ):
        client.get(path, **auth)  # warm: imports and caches are not the page's
        tracemalloc.start()
        response = client.get(path, **auth)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert response.status_code == 200
        assert len(response.content) <= 1024 * 1024
        # Rows, rendered dicts, JSON text and response bytes of one 1 MiB page: about 3 MiB.
        # Loading the 40 rows (8 MB) to cut afterwards would pass 16 MiB.
        assert peak < 4 * 1024 * 1024, (path, peak)
