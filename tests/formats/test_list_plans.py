"""Lists at a million (issue 10): every list query is served by an index, asserted on the
plan, and the filtered page's window answers exactly what the plain query answers.

The plans are PostgreSQL's; the data (``benchmarks/list_latency.py``'s generator, 30,000
rows) is big enough for the planner's choice to be stable, with sequential scans off as in
``test_telnyx_filters.py``. Latency figures: ``benchmarks/list_latency.py``.
"""

import pytest
from django.db import connection

from benchmarks.list_latency import LOAD_SQL, WORDS
from conversations import selectors, services
from conversations.formats.telnyx.filters import ConversationFilterSet
from conversations.models import Conversation
from conversations.selectors import Partition, conversation_queryset

ROWS = 30_000
pg_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans")


def load(project, rows=ROWS):
    with connection.cursor() as cursor:
        cursor.execute(
            LOAD_SQL,
            {"project": project.pk, "rows": rows, "start": "2024-01-01T00:00:00Z",
             "words": list(WORDS)},
        )  # fmt: skip


@pytest.fixture
def big(project):
    """``ROWS`` conversations, analysed, GIN pending lists flushed, sequential scans off."""
    load(project)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE conversations_conversation")
        for index in ("conv_metadata_gin_idx", "conv_metadata_path_idx", "conv_metadata_trgm_idx"):
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [index])
        cursor.execute("SET LOCAL enable_seqscan = off")
    return Partition(project)


def filterset(partition, **params):
    result = ConversationFilterSet(
        data={"limit": "20", **params}, queryset=conversation_queryset(partition=partition)
    )
    assert result.is_valid(), result.errors
    return result


def plan_of(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pg_only
@pytest.mark.parametrize(
    ("params", "index"),
    [
        # One jsonb_path_ops entry per pair: a key on every row costs nothing (issue 10).
        ({"metadata->grp": "eq.g17"}, "conv_metadata_path_idx"),  # 0.01%
        ({"metadata->u": "eq.u17"}, "conv_metadata_path_idx"),  # unique
        ({"metadata->grp": "in.(g1,g2,g3)"}, "conv_metadata_path_idx"),  # jsonpath @?
        ({"or": "(metadata->grp.eq.g1,metadata->u.eq.u5)"}, "conv_metadata_path_idx"),
        ({"metadata->note": "ilike.%note 12345 %"}, "conv_metadata_trgm_idx"),  # trigrams
        ({"metadata->note": "like.note 2345 %"}, "conv_metadata_trgm_idx"),
        ({"order": "last_message_at.desc"}, "conv_partition_activity_idx"),
        ({}, "conv_partition_created_idx"),
    ],
)
def test_list_queries_are_served_by_an_index(big, params, index):
    plan = filterset(big, **params).qs.explain()
    assert index in plan, plan


@pg_only
@pytest.mark.parametrize("order", ["created_at.desc", "last_message_at.desc", "created_at.asc"])
def test_the_window_walks_the_order_index(big, order):
    """A common value (1% of rows) is looked for in the window, read by walking the
    partition index of the list's order, never through GIN (which fetched all matches)."""
    result = filterset(big, **{"metadata->k": "eq.v7", "order": order})
    sql, params = selectors.window_query(
        partition=big, queryset=result.qs, order=result.window_order
    )
    plan = plan_of(sql, params)
    column = order.split(".")[0]
    expected = "conv_partition_activity_idx" if column == "last_message_at" else "created"
    assert expected in plan and "conv_metadata_gin_idx" not in plan, plan


@pg_only
def test_agentphone_count_reads_at_most_the_exact_limit(big):
    queryset = conversation_queryset(partition=big).order_by()
    sql, params = queryset[: selectors.EXACT_COUNT_LIMIT + 1].values("pk").query.sql_with_params()
    plan = plan_of(f"SELECT COUNT(*) FROM ({sql}) AS capped", params)
    assert "Limit" in plan and "Index" in plan, plan
    # Past the limit, the estimate of the whole partition (within a few percent).
    total = selectors.conversation_count(partition=big)
    assert abs(total - ROWS) < ROWS * 0.1, total


@pg_only
@pytest.mark.parametrize(
    ("params", "queries"),
    [
        ({"metadata->k": "eq.v3"}, 1),  # 20 matches among the window's first rows
        ({"metadata->k": "ilike.v1%", "order": "last_message_at.desc", "offset": "3"}, 1),
        ({"metadata->tier": "eq.gold"}, 2),  # 2 in the window: too few, then GIN
        ({"metadata->u": "eq.u0"}, 2),  # the oldest row: outside the window
        ({"metadata->u": "eq.absent"}, 2),
        ({"metadata->k": "ilike.V1%", "order": "created_at.asc"}, 1),
    ],
)
def test_window_pages_equal_the_plain_query(
    project, monkeypatch, django_assert_num_queries, params, queries
):
    monkeypatch.setattr(selectors, "FILTER_WINDOW", 2500)  # of 3,000 rows
    load(project, rows=3000)
    partition = Partition(project)
    expected = list(filterset(partition, **params).qs)  # the plain query
    result = filterset(partition, **params)
    with django_assert_num_queries(queries):
        rows = selectors.conversation_filtered_page(
            partition=partition, queryset=result.qs, order=result.window_order
        )
    assert [(c.pk, c.metadata) for c in rows] == [(c.pk, c.metadata) for c in expected]


@pg_only
def test_a_partition_smaller_than_the_window_answers_in_one_query(
    project, django_assert_num_queries
):
    for index in range(5):
        services.conversation_create(
            project=project, name=f"c{index}", metadata={"k": "a" if index % 2 else "b"},
            actor=services.SYSTEM,
        )  # fmt: skip
    services.conversation_create(
        project=services.project_get_or_create(name="other"), metadata={"k": "a"},
        actor=services.SYSTEM,
    )  # fmt: skip
    partition = Partition(project)
    result = filterset(partition, **{"metadata->k": "eq.a"})
    with django_assert_num_queries(1):
        rows = selectors.conversation_filtered_page(
            partition=partition, queryset=result.qs, order=result.window_order
        )
    assert [c.name for c in rows] == ["c3", "c1"]
    assert Conversation.objects.filter(metadata__k="a").count() == 3
