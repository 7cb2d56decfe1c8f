"""The Telnyx list filters (``GET /telnyx/v2/ai/conversations``) and their query plan."""

import datetime as dt
import uuid
from http import HTTPStatus
from urllib.parse import urlencode

import pytest
from django.db import connection

from conversations import services
from conversations.formats.telnyx.filters import ConversationFilterSet
from conversations.models import Conversation
from conversations.selectors import Partition, conversation_queryset
from tests.skips import needs_postgresql

BASE = "/telnyx/v2/ai/conversations"


@pytest.fixture
def make(project):
    """Create a conversation in the default partition; ``created`` sets created_at."""

    def create(name="", metadata=None, created=None, last=None):
        conversation = services.conversation_create(
            project=project, name=name, metadata=metadata or {}, actor=services.SYSTEM
        )
        fields = {}
        if created:
            fields["created_at"] = created
        if last:
            fields["last_message_at"] = last
        if fields:
            Conversation.objects.filter(pk=conversation.pk).update(**fields)
        return str(conversation.pk)

    return create


@pytest.fixture
def names(client, api_key):
    """``names(params)``: the names the list returns for query ``params`` (a list of pairs)."""

    def run(params, expect=HTTPStatus.OK):
        response = client.get(f"{BASE}?{urlencode(params)}", HTTP_AUTHORIZATION=f"Bearer {api_key}")
        assert response.status_code == expect, response.content
        body = response.json()
        return [c["name"] for c in body["data"]] if expect == HTTPStatus.OK else body["detail"]

    return run


def at(day, hour=0):
    return dt.datetime(2025, 1, day, hour, tzinfo=dt.UTC)


def test_date_only_values_compare_against_timestamps(make, names):
    make("d1", created=at(1, 10), last=at(1, 12))
    make("d2", created=at(2, 0), last=at(3, 0))
    make("d3", created=at(3, 23), last=at(4, 1))
    assert names([("created_at", "eq.2025-01-02")]) == ["d2"]
    assert names([("created_at", "neq.2025-01-02"), ("order", "name.asc")]) == ["d1", "d3"]
    assert names([("created_at", "gte.2025-01-02"), ("order", "name")]) == ["d2", "d3"]
    assert names([("created_at", "gt.2025-01-02")]) == ["d3"]
    assert names([("last_message_at", "lte.2025-01-03")]) == ["d2", "d1"]
    assert names([("created_at", "lt.2025-01-01T11:00:00Z")]) == ["d1"]
    assert names([("created_at", "gt.2025-01-01T10:00:00+00:00")]) == ["d3", "d2"]
    # Repeated keys AND together.
    assert names([("created_at", "gte.2025-01-01"), ("created_at", "lt.2025-01-02")]) == ["d1"]


def test_metadata_operators(make, names):
    make("a", {"tier": "Gold", "ai_disabled": "true"})
    make("b", {"tier": "gold_plus"})
    make("c", {"tier": "silver"})
    make("d", {"other": "x"})
    by_name = [("order", "name.asc")]
    assert names([("metadata->tier", "eq.silver")]) == ["c"]
    assert names([("metadata->>tier", "eq.silver")]) == ["c"]
    assert names([("metadata->tier", "neq.silver"), *by_name]) == ["a", "b"]
    assert names([("metadata->tier", "not.eq.silver"), *by_name]) == ["a", "b"]
    assert names([("metadata->tier", "in.(silver,Gold)"), *by_name]) == ["a", "c"]
    assert names([("metadata->tier", "like.gold*"), *by_name]) == ["b"]
    assert names([("metadata->tier", "ilike.gold%"), *by_name]) == ["a", "b"]
    assert names([("metadata->tier", "like.Gol_")]) == ["a"]
    assert names([("metadata->tier", r"like.gold\_%")]) == ["b"]
    assert names([("metadata->tier", "is.null")]) == ["d"]
    assert names([("metadata->tier", "not.is.null"), *by_name]) == ["a", "b", "c"]
    assert names([("metadata->ai_disabled", "is.true")]) == ["a"]
    assert names([("metadata->tier", "eq.nothing")]) == []


def test_metadata_is_null_matches_cleared_metadata(make, names, project):
    cleared = make("cleared", {"x": "1"})
    services.conversation_metadata_replace(
        conversation=cleared, metadata=None, actor=services.SYSTEM
    )
    make("set", {"tier": "gold"})
    assert names([("metadata->tier", "is.null")]) == ["cleared"]


@pytest.mark.parametrize("key", ['a"b', "a__b", "a.b", "a'b", "a->b", "ключ", "a b", "$"])
def test_unusual_metadata_keys_filter_without_error(make, names, key):
    make("hit", {key: "v"})
    make("miss", {key: "w"})
    assert names([(f"metadata->{key}", "eq.v")]) == ["hit"]
    assert names([(f"metadata->{key}", "like.v%")]) == ["hit"]


def test_name_and_id_filters(make, names):
    first = make("Voice call")
    make("voice mail")
    make("SMS")
    assert names([("name", "like.Voice*")]) == ["Voice call"]
    assert names([("name", "ilike.voice%"), ("order", "name.asc")]) == ["Voice call", "voice mail"]
    assert names([("name", 'in.(SMS,"Voice call")'), ("order", "name")]) == ["SMS", "Voice call"]
    assert names([("id", f"eq.{first}")]) == ["Voice call"]
    assert names([("id", f"eq.conv_{uuid.UUID(first).hex}")]) == ["Voice call"]
    assert names([("id", "eq.123")]) == []
    assert names([("id", f"neq.{first}"), ("order", "name")]) == ["SMS", "voice mail"]


def test_or_and_nested_and(make, names):
    make("a", {"ch": "sms"}, created=at(1))
    make("b", {"ch": "web"}, created=at(5))
    make("c", {"ch": "phone"}, created=at(9))
    query = [("or", "(metadata->ch.eq.sms,and(created_at.gte.2025-01-08,name.eq.c))")]
    assert names([*query, ("order", "name.asc")]) == ["a", "c"]
    assert names([("or", "(name.eq.b,name.eq.c)"), ("order", "created_at.asc")]) == ["b", "c"]


def test_order_limit_and_offset(make, names):
    for index, name in enumerate(["x", "y", "z"]):
        make(name, created=at(1 + index), last=at(9 - index))
    assert names([]) == ["z", "y", "x"]  # created_at.desc by default
    assert names([("order", "last_message_at.desc")]) == ["x", "y", "z"]
    assert names([("order", "created_at.asc"), ("limit", "2")]) == ["x", "y"]
    assert names([("order", "created_at.asc"), ("limit", "2"), ("offset", "2")]) == ["z"]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("created_at", "between.2025-01-01"),
        ("created_at", "gte.yesterday"),
        ("created_at", "like.2025%"),
        ("created_at", "gte"),
        ("name", "is.null"),
        ("id", "like.abc"),
        ("metadata->k", "gt.1"),
        ("metadata->k", "is.maybe"),
        ("metadata->k", "in.a,b"),
        ("metadata->k", "like.abc\\"),
        ("metadata->k", "eq.a\x00b"),
        ("metadata->", "eq.x"),
        ("metadata->>", "eq.x"),
        ("or", "created_at.gte.2025-01-01"),
        ("or", "(nope.eq.1)"),
        ("or", "(name.eq.a"),
        ("or", "(name)"),
        ("order", "metadata.desc"),
        ("order", "name.sideways"),
        ("limit", "0"),
        ("limit", "many"),
        ("limit", "1001"),
        ("offset", "-1"),
        ("offset", "100000000000000000000"),
        ("created_at", "eq.9999-12-31"),
        ("created_at", "lt.0001-01-01T00:00:00+14:00"),
        ("created_at", "gt.2025-02-30"),
        ("or", "(" + "and(" * 20 + "name.eq.a" + ")" * 21),
        ("metadata->k", "in.(" + ",".join(map(str, range(101))) + ")"),
    ],
)
def test_bad_filters_answer_422(make, names, param, value):
    make("a", {"k": "v"})
    detail = names([(param, value)], expect=HTTPStatus.UNPROCESSABLE_ENTITY)
    assert detail[0]["loc"] == ["query", param]
    assert detail[0]["msg"] and detail[0]["type"]


def test_list_query_count_does_not_grow_with_results(
    make, client, api_key, django_assert_max_num_queries
):
    for index in range(30):
        make(f"c{index}", {"k": "v"})
    client.get(BASE, HTTP_AUTHORIZATION=f"Bearer {api_key}")  # key's last_used_at touched once
    with django_assert_max_num_queries(2):  # the key, the conversations
        response = client.get(f"{BASE}?metadata->k=eq.v", HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert len(response.json()["data"]) == 30


@pytest.mark.parametrize(
    "params",
    [
        {"metadata->k": "eq.dense"},
        {"metadata->k": "eq.rare"},
        {"metadata->k": "eq.old"},
        {"metadata->k": "eq.absent"},
        {"metadata->k": "in.(rare,old)"},
        {"or": "(metadata->k.eq.rare,metadata->n.eq.3)"},
        {"metadata->k": "eq.dense", "metadata->n": "eq.1"},
    ],
)
@pytest.mark.parametrize("order", ["created_at.desc", "created_at.asc", "last_message_at.desc"])
def test_window_pages_hold_the_rows_of_the_plain_query(project, monkeypatch, params, order):
    """The filtered page read through the newest rows first (issue 10) is, page after page,
    the plain statement's page: same rows, same order, ties on the time broken by id, for
    values filling the window, missing from it, or only older than it."""
    from conversations import selectors

    monkeypatch.setattr(selectors, "FIRST_WINDOW_ROWS", 5)
    monkeypatch.setattr(selectors, "WINDOW_ROWS", 12)
    monkeypatch.setattr(selectors, "WINDOW_PAGE_ROWS", 9)
    rows = []
    for index in range(40):
        value = "dense" if index % 2 else ("rare" if index % 13 == 0 else "other")
        if index < 10 and index % 3 == 0:
            value = "old"
        metadata = {"k": value, "n": str(index % 5)}
        rows.append(Conversation(project=project, metadata=metadata, name=f"c{index}"))
    Conversation.objects.bulk_create(rows)
    for index, row in enumerate(rows):  # equal times in threes: the id breaks the ties
        Conversation.objects.filter(pk=row.pk).update(
            created_at=at(1, index // 3), last_message_at=at(20, (40 - index) // 3)
        )
    partition = Partition(project)
    for limit, offset in [(1, 0), (3, 0), (3, 3), (4, 5), (5, 4), (2, 30)]:
        data = {**params, "order": order, "limit": str(limit), "offset": str(offset)}
        filterset = ConversationFilterSet(data=data, partition=partition)
        assert filterset.is_valid(), filterset.errors
        expected = [row.pk for row in filterset.qs]
        assert [row.pk for row in filterset.page()] == expected, (data, expected)


def test_window_page_of_a_small_partition_reads_one_statement(
    make, client, api_key, django_assert_max_num_queries
):
    for index in range(30):
        make(f"c{index}", {"k": "v" if index % 10 else "rare"})
    client.get(BASE, HTTP_AUTHORIZATION=f"Bearer {api_key}")  # key's last_used_at touched once
    for value, count in (("v", 20), ("rare", 3)):
        with django_assert_max_num_queries(2):  # the key, the window (all of a small partition)
            response = client.get(
                f"{BASE}?limit=20&metadata->k=eq.{value}", HTTP_AUTHORIZATION=f"Bearer {api_key}"
            )
        assert len(response.json()["data"]) == count


def test_unknown_parameters_are_ignored(make, names):
    make("a")
    assert names([("select", "*"), ("page[number]", "2")]) == ["a"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason=needs_postgresql("GIN indexes"))
def test_metadata_eq_filter_is_served_by_the_gin_index(project):
    services.conversation_create(project=project, metadata={"k": "wanted"}, actor=services.SYSTEM)
    Conversation.objects.bulk_create(
        Conversation(project=project, metadata={"k": f"v{i}", "n": str(i)}) for i in range(20000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE conversations_conversation")
        # Earlier tests' rolled-back rows may sit in the GIN pending list, which the planner
        # charges to every GIN scan: flush it so the plan depends on this test's data alone.
        cursor.execute("SELECT gin_clean_pending_list('conv_metadata_gin_idx')")
        cursor.execute("SELECT gin_clean_pending_list('conv_metadata_path_idx')")
        cursor.execute("SET LOCAL enable_seqscan = off")
    filterset = ConversationFilterSet(
        data={"metadata->k": "eq.wanted"},
        queryset=conversation_queryset(partition=Partition(project)),
    )
    assert filterset.is_valid(), filterset.errors
    assert len(filterset.qs) == 1
    plan = filterset.qs.explain()
    # Since issue 10 the jsonb_path_ops GIN index (one entry per pair) serves containment.
    assert "conv_metadata_path_idx" in plan, plan
