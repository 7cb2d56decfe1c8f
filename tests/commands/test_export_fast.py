"""The fast export (conversations.transfer.exporting) writes the same bytes as the reference
serializer (jsonl.conversation_to_record + jsonl.dumps, the export before it) for tricky data."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from conversations.models import Conversation, Message
from conversations.selectors import conversation_export_iterator
from conversations.services import project_get_or_create
from conversations.transfer.exporting import export_lines
from conversations.transfer.jsonl import conversation_to_record, dumps
from tests.skips import needs_postgresql

pytestmark = pytest.mark.django_db

TRICKY = 'Kundin “ünïcode” 😀 \\ " / \x01\x1f\x7f \u2028\u2029 \t\n\r\b\f é 中文 1.5'


def reference_export(project=None) -> bytes:
    lines = [
        dumps(conversation_to_record(c, c.messages.all())) + "\n"
        for c in conversation_export_iterator(project=project)
    ]
    return "".join(lines).encode()


@pytest.fixture
def tricky_data(project):
    base = datetime(2026, 11, 23, 16, 5, 44, 123456, tzinfo=UTC)
    whole_second = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    conversations = [
        Conversation.objects.create(
            project=project,
            name=TRICKY,
            isolation_key="user-ß",
            metadata={"zeta": TRICKY, "Alpha": "1", "ai_disabled": "true", "é": "x", "a b": ""},
            ai_disabled=True,
            channel="sms",
            agent_id="agent_1",
            phone_number_id="pn_1",
            phone_number="+15550001111",
            participant="+15550002222",
            is_group=True,
            group_name="Gruppe ✓",
            last_message_preview=TRICKY[:100],
            created_at=base,
            last_message_at=whole_second,
            updated_at=base + timedelta(microseconds=1),
        ),
        Conversation.objects.create(project=project, metadata=None, group_name=None),
        Conversation.objects.create(
            project=project_get_or_create(name="globex ünï"), metadata={}, created_at=whole_second
        ),
    ]
    every_field = dict(
        item_type="function_call",
        role="assistant",
        status="in_progress",
        content=TRICKY,
        content_parts=[{"type": "output_text", "text": TRICKY, "annotations": []}],
        payload={"z": 1, "a": {"y": [1, None, True, False], "b": "x"}, "big": 2**70},
        name="lookup",
        tool_calls=[{"id": "call_1", "arguments": '{"k": 1.5}'}],
        tool_call_id="call_1",
        metadata={"k": "v", "n": 3},
        direction="outbound",
        channel="voice",
        from_number="+1",
        to_number="+2",
        media_urls=["https://example.com/ü.png"],
        reactions=[{"emoji": "👍", "by": "+1"}],
        sent_at=whole_second,
        created_at=base,
    )
    Message.objects.create(conversation=conversations[0], **every_field)
    Message.objects.create(
        conversation=conversations[0],
        payload={"floats": [1.5, 1e-7, 1e16, -0.0, 0.1, 123456789.125, 1e300]},
        metadata={"k": 0.00001},
        created_at=whole_second,
    )
    Message.objects.create(conversation=conversations[2], content="plain", created_at=base)
    return conversations


def test_fast_export_is_byte_identical_to_the_reference(tricky_data):
    fast = b"".join(export_lines(chunk_size=2))
    assert fast == reference_export()
    assert fast.count(b"\n") == 3
    assert "😀".encode() in fast and b"\\u0001" in fast and b"\\n" in fast


def test_fast_export_of_one_project(tricky_data, project):
    assert b"".join(export_lines(project=project, chunk_size=1)) == reference_export(project)


def test_the_export_command_writes_the_same_bytes(tricky_data, run, tmp_path):
    target = tmp_path / "out.jsonl"
    run("export_conversations", "--output", str(target), "--chunk-size", "2")
    assert target.read_bytes() == reference_export()
    stdout, _ = run("export_conversations")
    assert stdout.encode() == reference_export()


def test_tricky_data_survives_export_wipe_import_export(tricky_data, run, tmp_path):
    """Big integers, fractions, surrogate pairs and control characters go through the import's
    fast JSON reader and staging unchanged."""
    first = tmp_path / "first.jsonl"
    run("export_conversations", "--output", str(first))
    Conversation.objects.all().delete()
    out, _ = run("import_conversations", str(first))
    assert "3 created, 0 updated, 0 unchanged" in out
    assert b"".join(export_lines()) == first.read_bytes()
    assert Message.objects.get(item_type="function_call").payload["big"] == 2**70
    out, _ = run("import_conversations", str(first))
    assert "0 created, 0 updated, 3 unchanged" in out


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason=needs_postgresql("the fast export's SQL")
)
def test_a_project_page_reads_only_its_own_conversations_messages(project):
    """UUIDs are random, so another project's conversations lie between a page's first and
    last id: exporting one project, a page's message query names the page's ids instead of
    reading that whole range (which could be most of the table) and skipping the rest."""
    from conversations.transfer.exporting import _page_messages

    other = project_get_or_create(name="other")
    ids = [uuid.UUID(int=n) for n in (1, 2, 3)]
    mine = [Conversation.objects.create(id=ids[0], project=project),
            Conversation.objects.create(id=ids[2], project=project)]  # fmt: skip
    between = Conversation.objects.create(id=ids[1], project=other)
    for conversation in (*mine, between):
        Message.objects.create(conversation=conversation, content="x")
    sql = f"SELECT conversation_id FROM {Message._meta.db_table} WHERE {{}} ORDER BY id"
    page = [(str(c.id),) for c in mine]
    with connection.cursor() as cursor:
        cursor.execute(*_page_messages(sql, page, whole=False))
        assert {row[0] for row in cursor.fetchall()} == {ids[0], ids[2]}
        cursor.execute(*_page_messages(sql, page, whole=True))  # the whole store: one range
        assert {row[0] for row in cursor.fetchall()} == set(ids)
