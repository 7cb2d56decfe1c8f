"""What a metadata write returns is the row as stored, on either write path: PostgreSQL's
one statement (services/fastwrite.py) or the locking path (SQLite, or
``CONVSTORE_FAST_WRITES=0``). The formats render their answers from it."""

import pytest
from django.db import connection

from conversations.models import Conversation
from conversations.services import (
    Actor,
    conversation_create,
    conversation_metadata_merge,
    conversation_metadata_replace,
    fastwrite,
)

CMD = Actor.for_command("tests")


@pytest.fixture(params=[True, False], ids=["fast-writes-on", "fast-writes-off"])
def fast_writes(request, settings):
    settings.CONVSTORE_FAST_WRITES = request.param
    return request.param


def test_the_fast_path_runs_only_on_postgresql_and_only_when_allowed(fast_writes):
    assert fastwrite.enabled("default") == (fast_writes and connection.vendor == "postgresql")


@pytest.mark.parametrize("write", ["merge", "replace"])
def test_the_returned_row_is_the_stored_row(project, fast_writes, write):
    conversation = conversation_create(project=project, actor=CMD, metadata={"a": "1"})
    if write == "merge":
        returned = conversation_metadata_merge(
            conversation=conversation.pk, patch={"ai_disabled": True}, actor=CMD
        )
    else:
        returned = conversation_metadata_replace(
            conversation=conversation.pk, metadata={"ai_disabled": True}, actor=CMD
        )
    stored = Conversation.objects.get(pk=conversation.pk)
    assert returned.ai_disabled is True and stored.ai_disabled is True
    assert (returned.metadata, returned.version, returned.updated_at) == (
        stored.metadata,
        stored.version,
        stored.updated_at,
    )
    assert returned.updated_at > conversation.updated_at
