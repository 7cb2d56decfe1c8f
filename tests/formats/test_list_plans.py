"""Lists at a million (issue 10): every list query is served by an index, asserted on the
plan, and AgentPhone's ``total`` reads a bounded number of index entries.

The plans are PostgreSQL's; the data (``benchmarks/list_latency.py``'s generator, 30,000
rows) is big enough for the planner's choice to be stable, with sequential scans off as in
``test_telnyx_filters.py``. Latency figures: ``benchmarks/list_latency.py``.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from benchmarks.list_latency import LOAD_SQL, WORDS
from conversations import selectors, services
from conversations.formats.telnyx.filters import ConversationFilterSet
from conversations.selectors import Partition, conversation_queryset
from tests.skips import needs_postgresql

ROWS = 30_000
pg_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason=needs_postgresql("query plans")
)


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
    result = ConversationFilterSet(data={"limit": "20", **params}, partition=partition)
    assert result.is_valid(), result.errors
    return result


def plan_of(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


#: ``(query parameters, the index its plan must use)``.
PLANS = [
    # One jsonb_path_ops entry per pair: a key on every row costs nothing (issue 10).
    ({"metadata->grp": "eq.g17"}, "conv_metadata_path_idx"),  # 0.01%
    ({"metadata->u": "eq.u17"}, "conv_metadata_path_idx"),  # unique
    ({"metadata->grp": "in.(g1,g2,g3)"}, "conv_metadata_path_idx"),  # jsonpath @?
    ({"or": "(metadata->grp.eq.g1,metadata->u.eq.u5)"}, "conv_metadata_path_idx"),
    ({"metadata->note": "ilike.%note 12345 %"}, "conv_metadata_trgm_idx"),  # trigrams
    ({"metadata->note": "like.note 2345 %"}, "conv_metadata_trgm_idx"),
    ({"order": "last_message_at.desc"}, "conv_part_activity_id_idx"),
    ({}, "conv_part_created_id_idx"),
]


@pg_only
def test_list_queries_are_served_by_an_index(big):
    """Every query of :data:`PLANS` on one data set (loading it once per query would cost
    the suite minutes); each wrong plan is reported."""
    wrong = []
    for params, index in PLANS:
        plan = filterset(big, **params).qs.explain()
        if index not in plan:
            wrong.append(f"{params}: expected {index}\n{plan}")
    assert not wrong, "\n\n".join(wrong)


@pg_only
def test_agentphone_count_reads_at_most_the_exact_limit(big):
    queryset = conversation_queryset(partition=big).order_by()
    sql, params = queryset[: selectors.EXACT_COUNT_LIMIT + 1].values("pk").query.sql_with_params()
    plan = plan_of(f"SELECT COUNT(*) FROM ({sql}) AS capped", params)
    assert "Limit" in plan and "Index" in plan, plan
    # Past the limit, the estimate of the whole partition (within a few percent).
    total = selectors.conversation_count(partition=big)
    assert abs(total - ROWS) < ROWS * 0.1, total


def test_agentphone_total_is_exact_up_to_the_limit_and_on_the_last_page(
    client, project, api_key, monkeypatch
):
    for _ in range(7):
        services.conversation_create(project=project, metadata={}, actor=services.SYSTEM)

    def page(offset, limit=2):
        response = client.get(
            f"/agentphone/v1/conversations?limit={limit}&offset={offset}",
            HTTP_AUTHORIZATION=f"Bearer {api_key}",
        )
        assert response.status_code == 200, response.content
        body = response.json()
        return len(body["data"]), body["hasMore"], body["total"]

    assert page(0) == (2, True, 7)  # 7 ≤ the exact limit
    monkeypatch.setattr(selectors, "EXACT_COUNT_LIMIT", 3)
    count, has_more, total = page(0)
    assert (count, has_more) == (2, True)
    # Past the limit: PostgreSQL's estimate, at least what the page proves; SQLite counts.
    assert total >= 3 if connection.vendor == "postgresql" else total == 7
    assert page(4) == (2, True, max(total, 7))
    assert page(5) == (2, False, 7)  # the last page tells the exact total
    assert page(6, limit=5) == (1, False, 7)


def page_statements(partition, **params):
    """The rows the Telnyx list's :meth:`ConversationFilterSet.page` reads, and the plan of
    every statement it sent."""
    with CaptureQueriesContext(connection) as captured:
        rows = list(filterset(partition, **params).page())
    return rows, [plan_of(query["sql"], ()) for query in captured.captured_queries]


@pg_only
def test_page_of_a_frequent_value_the_statistics_missed_walks_a_bounded_window(big):
    """Issue 10: a value on 1% of the rows that ``ANALYZE`` never saw is estimated at a few
    rows, and the one-statement page fetched and sorted all its matches through the GIN
    index. The page now looks through the newest rows first, in the time index's order,
    a bounded number of them, and stops there when they fill it."""
    with connection.cursor() as cursor:  # after the fixture's ANALYZE: unknown to the planner
        cursor.execute(
            'UPDATE conversations_conversation SET metadata = metadata || \'{"late": "yes"}\' '
            "WHERE project_id = %s AND metadata->>'k' = 'v7'",
            [big.project.pk],
        )
    rows, plans = page_statements(big, **{"metadata->late": "eq.yes"})
    assert len(rows) == 20
    # 10 matches among the first 1,000 rows: the 5,000-row window is worth walking.
    windows = (selectors.FIRST_WINDOW_ROWS, selectors.WINDOW_ROWS)
    assert len(plans) == 2, plans
    for plan, size in zip(plans, windows, strict=True):
        assert "Index Scan using conv_part_created_id_idx" in plan, plan
        # The window's bound is in the plan: at most that many index entries and rows read.
        assert f"rows={size} " in plan and "Bitmap" not in plan, plan
    assert [row.pk for row in rows] == [
        row.pk for row in filterset(big, **{"metadata->late": "eq.yes"}).qs
    ]


@pg_only
@pytest.mark.parametrize("params", [{"metadata->grp": "eq.g17"}, {"metadata->u": "eq.u5"}])
def test_page_of_a_rare_value_sorts_its_matches_found_through_the_metadata_index(big, params):
    """When the window does not fill the page, the matches come from
    ``conv_metadata_path_idx`` and are sorted: the time index is never walked past rows that
    do not match, whatever the estimate."""
    rows, plans = page_statements(big, **params)
    assert len(plans) == 2, plans
    assert "Index Scan using conv_part_created_id_idx" in plans[0], plans[0]
    assert "conv_metadata_path_idx" in plans[1], plans[1]
    assert "conv_part_created_id_idx" not in plans[1], plans[1]
    assert [row.pk for row in rows] == [row.pk for row in filterset(big, **params).qs]
