"""Listing conversations: Azure v1 ``GET /conversations`` and ours on the OpenAI base URL."""

import threading
from datetime import timedelta
from http import HTTPStatus
from typing import Literal

import httpx
import openai
import pytest
from django.db import connection, transaction
from django.utils import timezone
from openai.types.conversations import Conversation as SDKConversation

from conversations import selectors, services
from conversations.models import Conversation
from conversations.selectors import Partition
from tests.skips import needs_postgresql


class ConversationList(openai.BaseModel):
    """The list object, as a client declares it for ``client.get(..., cast_to=…)``."""

    object: Literal["list"]
    data: list[SDKConversation]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool


@pytest.fixture
def many(project, other_api_key):
    """250 conversations of ``acme`` (no isolation key), created 1 s apart with some ties,
    plus conversations of other partitions that must never show. Returns their
    ``conv_`` ids oldest first."""
    base = timezone.now() - timedelta(days=1)
    rows = [
        Conversation(
            project=project,
            created_at=base + timedelta(seconds=i - i % 7 // 3),  # ties every few rows
            metadata={"n": str(i), "parity": "even" if i % 2 == 0 else "odd"},
            agent_id=f"support:{i % 3}" if i % 5 == 0 else "",
        )
        for i in range(250)
    ]
    Conversation.objects.bulk_create(rows)
    Conversation.objects.create(project=project, isolation_key="alice", metadata={"n": "x"})
    other = services.project_get_or_create(name="globex")
    Conversation.objects.create(project=other, metadata={"n": "y"})
    ordered = sorted(rows, key=lambda row: (row.created_at, row.pk.hex))
    return [f"conv_{row.pk.hex}" for row in ordered]


def page_through(fetch, order, cursor_name="after", limit=37, start=None):
    """Follow ``cursor_name`` from ``start`` until ``has_more`` is false; return all ids."""
    seen, cursor = [], start
    while True:
        params = {"order": order, "limit": limit}
        if cursor:
            params[cursor_name] = cursor
        page = fetch(params)
        ids = [c["id"] if isinstance(c, dict) else c.id for c in _data(page)]
        seen.extend(ids if cursor_name == "after" else reversed(ids))
        assert len(ids) <= limit
        if not _has_more(page):
            return seen
        cursor = ids[-1] if cursor_name == "after" else ids[0]


def _data(page):
    return page["data"] if isinstance(page, dict) else page.data


def _has_more(page):
    return page["has_more"] if isinstance(page, dict) else page.has_more


@pytest.fixture
def azure(azure_client_factory):
    client = azure_client_factory()
    return lambda params: client.get(
        "/conversations", cast_to=ConversationList, options={"params": params}
    )


def test_azure_client_pages_through_250_in_both_orders(azure, many):
    assert page_through(azure, "asc") == many
    assert page_through(azure, "desc") == many[::-1]
    # Backwards with ``before``: from the newest conversation down (asc pages, read in reverse).
    backwards = page_through(azure, "asc", cursor_name="before", start=many[-1])
    assert backwards == many[:-1][::-1]
    backwards = page_through(azure, "desc", cursor_name="before", start=many[0])
    assert backwards == many[1:]


def test_plain_http_pages_on_the_openai_base_url(http, many):
    def fetch(params):
        response = http.get("/openai/v1/conversations", params=params)
        assert response.status_code == HTTPStatus.OK
        return response.json()

    assert page_through(fetch, "desc", limit=100) == many[::-1]
    assert page_through(fetch, "asc", limit=1)[:5] == many[:5]
    page = fetch({"limit": 3})
    assert page["object"] == "list" and page["data"][0]["object"] == "conversation"
    assert (page["first_id"], page["last_id"]) == (many[-1], many[-3])
    default = fetch({})
    assert len(default["data"]) == 20 and default["has_more"] is True


def test_the_openai_client_lists_with_client_get(openai_client, many):
    page = openai_client.get(
        "/conversations", cast_to=ConversationList, options={"params": {"limit": 5}}
    )
    assert [c.id for c in page.data] == many[::-1][:5]


def test_before_and_after_together_bound_a_window(http, many):
    response = http.get(
        "/openai/v1/conversations",
        params={"order": "asc", "after": many[10], "before": many[20], "limit": 100},
    )
    assert [c["id"] for c in response.json()["data"]] == many[11:20]


def test_partitions_hold(azure_client_factory, many, http):
    alice = azure_client_factory(isolation_key="alice").get(
        "/conversations", cast_to=ConversationList
    )
    assert [c.metadata for c in alice.data] == [{"n": "x"}]
    response = http.get(
        "/openai/v1/conversations",
        params={"after": alice.data[0].id},
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST  # Another partition's id is no cursor.
    assert response.json()["error"]["param"] == "after"


def test_metadata_filters_are_anded(http, many):
    def ids(params):
        response = http.get("/openai/v1/conversations", params=params)
        assert response.status_code == HTTPStatus.OK, response.text
        return [c["id"] for c in response.json()["data"]]

    by_n = {c.metadata["n"]: f"conv_{c.pk.hex}" for c in Conversation.objects.all()}
    assert ids([("metadata[n]", "7")]) == [by_n["7"]]
    assert ids([("metadata[n]", "8"), ("metadata[parity]", "even")]) == [by_n["8"]]
    assert ids([("metadata[n]", "7"), ("metadata[parity]", "even")]) == []
    assert ids([("metadata[n]", "7"), ("metadata[n]", "8")]) == []
    evens = page_through(
        lambda p: http.get(
            "/openai/v1/conversations", params={**p, "metadata[parity]": "even"}
        ).json(),
        "asc",
    )
    assert evens == [c for c in many if c in {by_n[str(i)] for i in range(0, 250, 2)}]
    assert ids([("metadata[n]", "7\x00")]) == []


def test_agent_filters(http, many):
    def count(params):
        return len(
            page_through(
                lambda p: http.get("/openai/v1/conversations", params={**p, **params}).json(), "asc"
            )
        )

    assert count({"agent_name": "support"}) == 50
    assert count({"agent_id": "support:1"}) == len(
        [i for i in range(250) if i % 5 == 0 and i % 3 == 1]
    )
    assert count({"agent_name": "supp"}) == 0
    assert count({"agent_id": "x\x00"}) == 0


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({"limit": 0}, "limit", "integer_below_min_value"),
        ({"limit": 101}, "limit", "integer_above_max_value"),
        ({"limit": "ten"}, "limit", "invalid_type"),
        ({"order": "newest"}, "order", "invalid_value"),
        ({"after": "conv_nope"}, "after", "invalid_value"),
        ({"before": "0" * 32}, "before", "invalid_value"),
        ({"metadata[]": "x"}, "metadata[]", "invalid_value"),
        ({"metadata[k]": "v" * 513}, "metadata[k]", "string_above_max_length"),
        ({f"metadata[k{i}]": "v" for i in range(17)}, "metadata", "invalid_value"),
    ],
)
def test_bad_parameters_answer_400_in_openai_shape(client, api_key, db, params, param, code):
    response = client.get("/azure/openai/v1/conversations", params, HTTP_API_KEY=api_key)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, code)


@pytest.mark.django_db(transaction=True)
def test_paging_is_stable_under_concurrent_inserts(live_server, api_key, project):
    base = timezone.now() - timedelta(hours=1)
    Conversation.objects.bulk_create(
        Conversation(project=project, created_at=base + timedelta(milliseconds=i), metadata={})
        for i in range(250)
    )
    existing = {f"conv_{pk.hex}" for pk in Conversation.objects.values_list("pk", flat=True)}
    stop = threading.Event()

    def insert():
        """New conversations at the newest end and, with past times (even equal to existing
        ones), in the middle of the list, while the client pages."""
        try:
            for i in range(150):
                if stop.is_set():
                    return
                if i % 2:
                    services.conversation_create(project=project, actor=services.SYSTEM)
                else:
                    Conversation.objects.create(
                        project=project, created_at=base + timedelta(milliseconds=i), metadata={}
                    )
        finally:
            connection.close()

    writer = threading.Thread(target=insert)
    writer.start()
    try:
        with httpx.Client(
            base_url=live_server.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60
        ) as http:
            for order in ("asc", "desc"):
                seen = page_through(
                    lambda p: http.get("/openai/v1/conversations", params=p).json(),
                    order,
                    limit=10,
                )
                assert len(seen) == len(set(seen)), "a conversation was repeated"
                assert existing <= set(seen), "a conversation was skipped"
    finally:
        stop.set()
        writer.join()
    assert Conversation.objects.count() > 250  # The writer really ran meanwhile.


@pytest.mark.skipif(connection.vendor != "postgresql", reason=needs_postgresql("GIN indexes"))
@pytest.mark.django_db(transaction=True)
def test_metadata_filter_is_served_by_the_gin_index(project):
    """A transactional test: the flush afterwards truncates the table, so its 20,000 rows
    leave no dead entries in the GIN index to skew later tests' plans."""
    with transaction.atomic():
        services.conversation_create(
            project=project, metadata={"k": "wanted"}, actor=services.SYSTEM
        )
        Conversation.objects.bulk_create(
            Conversation(project=project, metadata={"k": f"v{i}", "n": str(i)})
            for i in range(20000)
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE conversations_conversation")
            cursor.execute("SET LOCAL enable_seqscan = off")
        queryset = selectors.conversation_metadata_filter(
            selectors.conversation_queryset(partition=Partition(project)), [("k", "wanted")]
        ).order_by("-created_at", "-pk")[:21]
        assert len(queryset) == 1
        plan = queryset.explain()
    # Either GIN index on metadata serves containment (jsonb_ops or the jsonb_path_ops one).
    assert "conv_metadata_gin_idx" in plan or "conv_metadata_path_idx" in plan, plan
