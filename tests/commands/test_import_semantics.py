"""import_conversations' upsert rules, held on both databases (PostgreSQL takes the COPY and
set-based path, SQLite the ORM path): partial records, defaults, versions, audit actions,
threads, --check, and flat streaming."""

import json
import time
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from conversations.models import Conversation, Message, MetadataChange
from tests.skips import needs_postgresql

pytestmark = pytest.mark.django_db


def write(tmp_path, *records, name="in.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def test_partial_record_keeps_stored_fields_and_bumps_the_version(run, make_conversation, tmp_path):
    conversation = make_conversation({"a": "1"}, channel="sms")
    version = Conversation.objects.get(pk=conversation.pk).version
    out, _ = run(
        "import_conversations",
        write(tmp_path, {"id": str(conversation.pk), "project": "acme", "name": "renamed"}),
    )

    row = Conversation.objects.get(pk=conversation.pk)
    assert "0 created, 1 updated, 0 unchanged" in out
    assert (row.name, row.channel, row.metadata) == ("renamed", "sms", {"a": "1"})
    assert row.version == version + 1
    assert not MetadataChange.objects.filter(actor="import_conversations").exists()

    again, _ = run(
        "import_conversations",
        write(tmp_path, {"id": str(conversation.pk), "project": "acme", "name": "renamed"}),
    )
    assert "0 created, 0 updated, 1 unchanged" in again
    assert Conversation.objects.get(pk=conversation.pk).version == version + 1


def test_new_partial_record_gets_the_model_defaults(run, tmp_path):
    before = datetime.now(UTC)
    pk = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    run(
        "import_conversations",
        write(tmp_path, {"id": f"conv_{pk.replace('-', '')}", "project": " newco "}),
    )

    row = Conversation.objects.select_related("project").get(pk=pk)
    assert row.project.name == "newco"
    assert (row.metadata, row.ai_disabled, row.message_count, row.version) == ({}, False, 0, 1)
    assert (row.name, row.channel, row.group_name, row.is_group) == ("", "", None, False)
    assert row.created_at >= before and row.last_message_at == row.created_at
    assert not MetadataChange.objects.exists()  # no metadata, no audit row


def test_audit_actions_create_replace_clear(run, make_conversation, tmp_path):
    kept = make_conversation({"a": "1"})
    cleared = make_conversation({"b": "1"})
    new_id = "00000000-0000-4000-8000-000000000001"
    run(
        "import_conversations",
        write(
            tmp_path,
            {"id": str(kept.pk), "project": "acme", "metadata": {"a": "2", "ai_disabled": "true"}},
            {"id": str(cleared.pk), "project": "acme", "metadata": None},
            {"id": new_id, "project": "acme", "metadata": {"n": "1"}},
        ),
    )

    changes = {
        str(c.conversation_id): (c.action, c.before, c.after)
        for c in MetadataChange.objects.filter(actor="import_conversations")
    }
    assert changes == {
        str(kept.pk): ("replace", {"a": "1"}, {"a": "2", "ai_disabled": "true"}),
        str(cleared.pk): ("clear", {"b": "1"}, None),
        new_id: ("create", None, {"n": "1"}),
    }
    assert Conversation.objects.get(pk=kept.pk).ai_disabled is True
    assert Conversation.objects.get(pk=cleared.pk).metadata is None


def test_project_change_and_thread_rules(run, make_conversation, tmp_path):
    conversation = make_conversation({}, messages=[("user", "one"), ("assistant", "two")])
    ids = list(conversation.messages.order_by("id").values_list("id", flat=True))
    exported, _ = run("export_conversations")
    record = json.loads(exported)
    out, _ = run("import_conversations", write(tmp_path, record))
    assert "1 unchanged" in out
    assert list(conversation.messages.order_by("id").values_list("id", flat=True)) == ids

    out, _ = run(
        "import_conversations", write(tmp_path, {**record, "project": "moved", "messages": []})
    )
    row = Conversation.objects.select_related("project").get(pk=conversation.pk)
    assert "1 updated" in out
    assert (row.project.name, row.message_count) == ("moved", 0)
    assert not Message.objects.filter(conversation=conversation).exists()


def test_check_only_writes_nothing(run, tmp_path):
    out, _ = run(
        "import_conversations",
        write(tmp_path, {"id": "00000000-0000-4000-8000-000000000002", "project": "acme"}),
        "--check",
    )
    assert "1 conversations, all lines valid. Nothing written." in out
    assert not Conversation.objects.exists()


@pytest.mark.parametrize("jobs", ["0", "2"])  # PostgreSQL: in this process, or two workers
def test_many_chunks_in_one_transaction(run, tmp_path, jobs):
    records = [
        {"id": f"00000000-0000-4000-8000-{i:012d}", "project": "acme", "metadata": {"i": str(i)}}
        for i in range(25)
    ]
    records[7]["messages"] = [{"role": "user", "content": "hi"}, {"role": "assistant"}]
    path = write(tmp_path, *records)
    out, _ = run("import_conversations", path, "--chunk-size", "4", "--jobs", jobs)
    assert "25 created" in out
    assert MetadataChange.objects.filter(action="create").count() == 25
    assert Conversation.objects.get(pk=records[7]["id"]).message_count == 2
    assert list(Message.objects.values_list("role", flat=True).order_by("id")) == [
        "user",
        "assistant",
    ]
    again, _ = run("import_conversations", path, "--chunk-size", "4", "--jobs", jobs)
    assert "0 created, 0 updated, 25 unchanged" in again


@pytest.mark.parametrize("jobs", ["0", "1", "2"])
def test_bad_lines_checked_in_workers_are_named_in_file_order(tmp_path, jobs):
    """Chunks of 2 lines go to the workers in turn; every bad line and the repeat of an id
    seen in another chunk are named by their line in the file, and nothing is written."""
    good = [{"id": f"00000000-0000-4000-8000-{i:012d}", "project": "acme"} for i in range(9)]
    lines = [json.dumps(r) for r in good]
    lines[2] = json.dumps({**good[2], "metadata": {"k": 1}})  # line 3
    lines[5] = "{not json"  # line 6
    lines[8] = json.dumps(good[0])  # line 9 repeats line 1
    lines.insert(4, "")  # blank: skipped, but counted; the bad ones become 3, 7 and 10
    path = tmp_path / "in.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\n")  # line 11: not UTF-8
    err = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "import_conversations", str(path), "--chunk-size", "2", "--jobs", jobs,
            stdout=StringIO(), stderr=err,
        )  # fmt: skip
    assert str(excinfo.value).endswith("Line(s): 3, 7, 10, 11")
    assert f"in.jsonl:10: id {good[0]['id']} already appears on line 1." in err.getvalue()
    assert "in.jsonl:11: not UTF-8 text." in err.getvalue()
    assert not Conversation.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason=needs_postgresql("worker processes"))
def test_workers_close_their_connections_and_leave_the_transaction_whole(run, tmp_path):
    def backends():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            )
            return cursor.fetchone()[0]

    before = backends()
    records = [{"id": f"00000000-0000-4000-8000-{i:012d}", "project": "acme"} for i in range(9)]
    out, _ = run("import_conversations", write(tmp_path, *records), "--chunk-size", "2")
    assert "9 created" in out
    assert Conversation.objects.count() == 9  # written on this connection, in its transaction
    for _ in range(50):  # a worker's session ends just after the worker exits
        if backends() == before:
            break
        time.sleep(0.1)
    assert backends() == before


def test_an_integer_beyond_64_bits_is_named_as_written_in_an_error(tmp_path):
    """orjson reads such an integer as a float; the error must quote the line's own digits."""
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"id": "00000000-0000-4000-8000-000000000003", "project": "acme", '
        '"metadata": {"ai_disabled": 123456789012345678901234}}\n',
        encoding="utf-8",
    )
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_conversations", str(path), stdout=StringIO(), stderr=err)
    assert "got 123456789012345678901234" in err.getvalue()
    assert not Conversation.objects.exists()


def test_message_json_keeps_integers_beyond_64_bits_beside_fractions(run, tmp_path):
    big = 123456789012345678901234
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"id": "00000000-0000-4000-8000-000000000004", "project": "acme", "messages": '
        f'[{{"content": "x", "payload": {{"f": 0.5, "n": {big}, "m": -{big}}}}}]}}\n',
        encoding="utf-8",
    )
    run("import_conversations", str(path))
    payload = Message.objects.get().payload
    assert payload == {"f": 0.5, "n": big, "m": -big}
    assert type(payload["n"]) is int


def _indexes():
    """``[(name, definition, oid)]`` of the indexes of the tables an import writes."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indexrelid FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = ANY(%s::regclass[]) "
            "ORDER BY 1",
            [[m._meta.db_table for m in (Conversation, MetadataChange, Message)]],
        )
        return cursor.fetchall()


def _foreign_keys():
    """``[(table, name, definition, oid)]`` of the foreign keys to or from conversations."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), oid "
            "FROM pg_constraint WHERE contype = 'f' "
            "AND (conrelid = %s::regclass OR confrelid = %s::regclass) ORDER BY 1, 2",
            [Conversation._meta.db_table] * 2,
        )
        return cursor.fetchall()


@pytest.mark.parametrize("threshold, rebuilt", [("5", True), ("6", False), ("0", False)])
def test_a_large_import_into_an_empty_store_rebuilds_the_same_indexes(
    run, tmp_path, threshold, rebuilt
):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip(needs_postgresql("the index rebuild"))
    before, keys_before = _indexes(), _foreign_keys()
    records = [
        {
            "id": f"00000000-0000-4000-8000-{i:012d}",
            "project": "acme",
            "metadata": {"i": str(i)},
            "messages": [{"content": "hi"}],
        }
        for i in range(5)
    ]
    out, _ = run(
        "import_conversations", write(tmp_path, *records), "--rebuild-indexes-from", threshold
    )
    assert "5 created" in out
    after = _indexes()
    assert [row[:2] for row in after] == [row[:2] for row in before]
    secondary = {name for name, definition, _ in before if "UNIQUE" not in definition}
    changed = {a[0] for a, b in zip(after, before, strict=True) if a[2] != b[2]}
    assert changed == (secondary if rebuilt else set())
    keys_after = _foreign_keys()
    assert [row[:3] for row in keys_after] == [row[:3] for row in keys_before]
    written = {
        m._meta.db_table for m in (Conversation, MetadataChange, Message)
    }  # the webhook outbox's key stays
    recreated = {a[1] for a, b in zip(keys_after, keys_before, strict=True) if a[3] != b[3]}
    expected = {row[1] for row in keys_before if row[0] in written}
    assert recreated == (expected if rebuilt else set())
    assert Message.objects.count() == 5
    assert MetadataChange.objects.filter(action="create").count() == 5
    assert Conversation.objects.filter(metadata__contains={"i": "3"}).count() == 1


def test_an_import_into_a_store_with_rows_keeps_its_indexes(run, tmp_path):
    from django.db import connection

    records = [{"id": f"00000000-0000-4000-8000-{i:012d}", "project": "acme"} for i in range(3)]
    run("import_conversations", write(tmp_path, *records))
    before = _indexes() if connection.vendor == "postgresql" else None
    more = [{"id": f"00000000-0000-4000-8001-{i:012d}", "project": "acme"} for i in range(3)]
    out, _ = run(
        "import_conversations",
        write(tmp_path, *more, name="more.jsonl"),
        "--rebuild-indexes-from",
        "1",
    )
    assert "3 created" in out
    assert Conversation.objects.count() == 6
    if before is not None:
        assert _indexes() == before


def test_a_failed_rebuilding_import_leaves_the_store_and_its_indexes_as_they_were(tmp_path):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip(needs_postgresql("the index rebuild"))
    before, keys_before = _indexes(), _foreign_keys()
    message = {"id": "00000000-0000-4000-9000-000000000001", "content": "twice"}
    records = [  # one message id in two conversations: the write step fails
        {"id": f"00000000-0000-4000-8000-{i:012d}", "project": "acme", "messages": [message]}
        for i in range(2)
    ]
    with pytest.raises(CommandError, match="nothing was written"):
        call_command(
            "import_conversations",
            write(tmp_path, *records),
            "--rebuild-indexes-from",
            "1",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert not Conversation.objects.exists()
    assert (_indexes(), _foreign_keys()) == (before, keys_before)
