"""Bounded Telnyx list filters (issue 9): a per-request budget of metadata conditions, and
each condition reading the row's metadata once.

The time of the pathological filter is printed by ``benchmarks/list_latency.py``
(``pathological`` line), never asserted here: a test asserts what bounds the time — the
number of conditions and how often each reads ``metadata`` — and that the answer is right.
"""

import re
from http import HTTPStatus
from urllib.parse import urlencode

import pytest
from django.db import connection

from conversations import services
from conversations.formats.telnyx.filters import MAX_METADATA_CONDITIONS, ConversationFilterSet
from conversations.models import Conversation
from conversations.selectors import Partition, conversation_queryset

BASE = "/telnyx/v2/ai/conversations"


@pytest.fixture
def get(client, api_key):
    def run(params):
        return client.get(f"{BASE}?{urlencode(params)}", HTTP_AUTHORIZATION=f"Bearer {api_key}")

    return run


def _or(conditions):
    return "(" + ",".join(conditions) + ")"


@pytest.mark.parametrize(
    "params",
    [
        # The filter: 100 ilike conditions in one or=(…).
        [("or", _or(f"metadata->k{n}.ilike.%a%a%b" for n in range(100)))],
        [("or", _or(f"metadata->k{n}.eq.x" for n in range(MAX_METADATA_CONDITIONS + 1)))],
        # Spread over parameters, repeated parameters and nested groups, the budget is shared.
        [(f"metadata->k{n}", "eq.x") for n in range(MAX_METADATA_CONDITIONS + 1)],
        [("metadata->k", "like.a%")] * (MAX_METADATA_CONDITIONS + 1),
        [
            *[(f"metadata->k{n}", "eq.x") for n in range(MAX_METADATA_CONDITIONS - 1)],
            ("and", "(name.eq.a,or(metadata->x.eq.1,metadata->>y.in.(1,2)))"),
        ],
    ],
    ids=["issue-100-ilike", "or-group", "parameters", "repeated", "nested"],
)
def test_too_many_metadata_conditions_answer_422(project, get, params):
    response = get(params)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY, response.content
    (item,) = response.json()["detail"]
    # On the parameter whose conditions cross the budget (parameters are read in a fixed
    # order: or, and, then metadata->KEY in the query's order).
    assert item["loc"][0] == "query"
    assert item["loc"][1] in {name for name, _ in params}
    assert f"at most {MAX_METADATA_CONDITIONS}" in item["msg"]
    assert item["type"] == "too_long"


def test_metadata_conditions_up_to_the_budget_are_served(project, get):
    services.conversation_create(
        project=project, name="hit", metadata={"k0": "x", "k9": "y"}, actor=services.SYSTEM
    )
    services.conversation_create(
        project=project, name="miss", metadata={"k0": "z"}, actor=services.SYSTEM
    )
    half = MAX_METADATA_CONDITIONS // 2
    params = [
        *[(f"metadata->k{n}", "not.eq.nope") for n in range(half)],
        ("or", _or(f"metadata->k{n}.in.(x,y)" for n in range(half, MAX_METADATA_CONDITIONS))),
        ("id", "not.eq.conv_0"),  # other columns are not counted
    ]
    response = get(params)
    assert response.status_code == HTTPStatus.OK, response.content
    # not.eq matches only conversations holding the key: k1…k4 are on neither.
    assert response.json()["data"] == []
    response = get([("metadata->k0", "not.eq.nope"), ("or", "(metadata->k9.in.(x,y))")])
    assert [c["name"] for c in response.json()["data"]] == ["hit"]


CONDITIONS = [
    ("metadata->k", "eq.v"),
    ("metadata->k", "neq.v"),
    ("metadata->k", "not.eq.v"),
    ("metadata->k", "is.true"),
    ("metadata->k", "not.is.false"),
    ("metadata->k", "like.a%b"),
    ("metadata->k", "ilike.%a%a%b"),
    ("metadata->k", "not.ilike.%a%"),
    ("metadata->k", "in.(a,b,c,d,e,f)"),
    ("metadata->k", "not.in.(a,b,c,d,e,f)"),
    ("metadata->k", "not.is.null"),
    ('metadata->k"q', "ilike.%a%"),  # SQLite reads this key through json_each
]


@pytest.mark.parametrize(("param", "value"), CONDITIONS)
def test_each_metadata_condition_reads_metadata_once(project, param, value):
    """The compiled WHERE names the ``metadata`` column once per condition (before issue 9:
    twice, ``?`` then ``->>``; an ``in`` of six values six times), so a row's metadata is
    read (detoasted, parsed) once per condition."""
    base = conversation_queryset(partition=Partition(project))
    filterset = ConversationFilterSet(data={param: value}, queryset=base)
    assert filterset.is_valid(), filterset.errors
    sql, _ = filterset.qs.query.sql_with_params()
    where = sql.split(" WHERE ", 1)[1].split(" ORDER BY ", 1)[0]
    reads = re.findall(r'"conversations_conversation"\."metadata"', where)
    assert len(reads) == 1, where


def test_pathological_filter_at_the_budget_answers_right_on_3000_rows(project, get):
    """The issue's shape at the budget — ``MAX_METADATA_CONDITIONS`` ``ilike.%a%a%b`` over
    rows of 16 values of 512 characters (compressed and stored out of line on PostgreSQL) —
    answers, and answers right. Its time: ``benchmarks/list_latency.py`` (pathological)."""
    rows = []
    for index in range(3000):
        metadata = {f"k{n}": "a" * 512 for n in range(16)}
        if index % 500 == 0:
            metadata[f"k{index % MAX_METADATA_CONDITIONS}"] = "A" * 510 + "ab"
        rows.append(Conversation(project=project, name=f"c{index}", metadata=metadata))
    Conversation.objects.bulk_create(rows)
    conditions = [f"metadata->k{n}.ilike.%a%a%b" for n in range(MAX_METADATA_CONDITIONS)]
    response = get([("or", _or(conditions)), ("order", "name.asc")])
    assert response.status_code == HTTPStatus.OK, response.content
    expected = sorted(f"c{index}" for index in range(0, 3000, 500))
    assert [c["name"] for c in response.json()["data"]] == expected
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_column_size(metadata) < octet_length(metadata::text) "
                "FROM conversations_conversation WHERE project_id = %s LIMIT 1",
                [project.pk],
            )
            assert cursor.fetchone()[0]  # compressed: each read decompresses it
