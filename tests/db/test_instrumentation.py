"""The hot reads (``conversations.selectors.rows``, raw SQL with server-side binding) are visible to
Django's instrumentation like any ORM statement: ``assertNumQueries`` /
``django_assert_num_queries`` (the query log), ``connection.execute_wrapper`` (the request
metrics, APM tools) and ``connection.queries``."""

from __future__ import annotations

import pytest
from django.db import connection

from conversations.selectors import rows
from conversations.services import SYSTEM, conversation_create

from .conftest import postgres_only

pytestmark = [postgres_only, pytest.mark.django_db]


@pytest.fixture
def conversation(project):
    return conversation_create(project=project, metadata={"k": "v"}, actor=SYSTEM)


def read(conversation):
    return rows.conversation_in_partition(conversation.pk, conversation.project_id, "")


def test_django_assert_num_queries_counts_the_hot_read(django_assert_num_queries, conversation):
    with django_assert_num_queries(1) as captured:
        assert read(conversation).metadata == {"k": "v"}
    [query] = captured.captured_queries
    assert query["sql"].startswith("SELECT ") and rows.TABLE in query["sql"]


def test_an_execute_wrapper_sees_the_hot_read_and_can_refuse_it(conversation):
    seen = []

    def spy(execute, sql, params, many, context):
        seen.append((sql, list(params), context["connection"].alias))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        assert read(conversation) is not None
    assert seen == [
        (rows._GET_IN_PARTITION, [conversation.pk, conversation.project_id, ""], "default")
    ]

    class Refused(Exception):
        pass

    def refuse(execute, sql, params, many, context):
        raise Refused(sql)

    with connection.execute_wrapper(refuse), pytest.raises(Refused):
        read(conversation)


def test_an_api_get_counts_its_hot_read(django_assert_num_queries, client, api_key, conversation):
    path = f"/openai/v1/conversations/conv_{conversation.pk.hex}"
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    assert client.get(path, **headers).status_code == 200  # key cached, timeout set
    with django_assert_num_queries(1) as captured:
        assert client.get(path, **headers).status_code == 200
    assert rows.TABLE in captured.captured_queries[0]["sql"]
