"""The admin paginator never counts a whole table."""

import pytest
from django.db import connection

from conversations.admin import paging
from conversations.admin.paging import EstimatedCountPaginator
from conversations.models import Conversation


@pytest.mark.django_db
def test_count_is_capped_on_filters_and_estimated_on_the_whole_table(
    make_conversation, monkeypatch
):
    monkeypatch.setattr(paging, "COUNT_CAP", 5)
    for _ in range(12):
        make_conversation()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE conversations_conversation")

    whole = EstimatedCountPaginator(Conversation.objects.order_by("-last_message_at"), 3).count
    filtered = EstimatedCountPaginator(Conversation.objects.filter(ai_disabled=False), 3).count
    few = EstimatedCountPaginator(Conversation.objects.filter(ai_disabled=True), 3).count

    assert filtered == 5
    assert few == 0
    # PostgreSQL reads pg_class.reltuples (12 after ANALYZE); SQLite caps.
    assert whole == (12 if connection.vendor == "postgresql" else 5)
