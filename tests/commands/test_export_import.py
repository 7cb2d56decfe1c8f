"""``export_conversations`` and ``import_conversations``: byte-exact round trip, safe import."""

import json
import uuid
from datetime import timedelta

import pytest
from django.core.management import CommandError
from django.utils import timezone

from conversations.models import Conversation, Message, MetadataChange

N = 10_000


def seed_many(project, n=N):
    """``n`` conversations with varied fields, metadata and messages, written in bulk."""
    base = timezone.now() - timedelta(days=30)
    conversations = []
    for i in range(n):
        metadata = {"customer_name": f"Kundin {i} – “ünïcode” 😀", "n": str(i)}
        if i % 7 == 0:
            metadata["ai_disabled"] = "true"
        conversations.append(
            Conversation(
                project=project,
                isolation_key="user-42" if i % 5 == 0 else "",
                name=f"conv {i}" if i % 3 else "",
                created_at=base + timedelta(seconds=i, microseconds=i % 1000),
                last_message_at=base + timedelta(seconds=2 * i),
                updated_at=base + timedelta(seconds=3 * i),
                metadata=None if i % 97 == 0 else metadata,
                ai_disabled=i % 7 == 0 and i % 97 != 0,
                channel=["sms", "voice", ""][i % 3],
                is_group=i % 11 == 0,
                group_name="the group" if i % 11 == 0 else None,
                message_count=2 if i % 10 == 0 else 0,
                last_message_preview="bye" if i % 10 == 0 else "",
            )
        )
    Conversation.objects.bulk_create(conversations, batch_size=1000)
    messages = []
    for conversation in conversations[::10]:
        messages += [
            Message(
                conversation=conversation,
                role="user",
                content="hello\nworld",
                direction="inbound",
                media_urls=["https://example.com/a.png"],
                sent_at=base,
                created_at=base,
            ),
            Message(
                conversation=conversation,
                role="assistant",
                content="bye",
                content_parts=[{"type": "output_text", "text": "bye", "annotations": []}],
                metadata={"k": 1.5, "nested": {"b": [1, None, True]}},
                direction="outbound",
                created_at=base + timedelta(seconds=1),
            ),
        ]
    Message.objects.bulk_create(messages, batch_size=1000)


@pytest.mark.django_db(transaction=True)
def test_export_wipe_import_export_round_trips_byte_for_byte(run, project, tmp_path):
    seed_many(project)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"

    run("export_conversations", "--output", str(first))
    Conversation.objects.all().delete()
    out, _ = run("import_conversations", str(first))
    run("export_conversations", "--output", str(second))

    assert f"Imported {N} conversations: {N} created, 0 updated, 0 unchanged." in out
    assert first.read_bytes() == second.read_bytes()
    lines = first.read_text(encoding="utf-8").splitlines()
    assert len(lines) == N
    sample = json.loads(lines[0])
    assert set(sample) >= {"id", "project", "metadata", "messages", "last_message_at"}
    assert Conversation.objects.filter(ai_disabled=True).count() == len(
        [i for i in range(N) if i % 7 == 0 and i % 97 != 0]
    )
    assert Message.objects.count() == 2 * (N // 10)


@pytest.mark.django_db
def test_importing_the_same_file_twice_changes_nothing(run, project, tmp_path):
    seed_many(project, n=30)
    path = tmp_path / "export.jsonl"
    run("export_conversations", "--output", str(path))
    before = path.read_bytes()
    audits = MetadataChange.objects.count()
    message_rows = list(Message.objects.order_by("id").values_list("id", flat=True))

    out, _ = run("import_conversations", str(path))
    run("export_conversations", "--output", str(path))

    assert "0 created, 0 updated, 30 unchanged" in out
    assert path.read_bytes() == before
    assert MetadataChange.objects.count() == audits
    assert list(Message.objects.order_by("id").values_list("id", flat=True)) == message_rows


@pytest.mark.django_db
def test_export_to_stdout_one_object_per_line(run, project):
    seed_many(project, n=3)

    out, _ = run("export_conversations", "--project", "acme")

    records = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in records] == sorted(r["id"] for r in records)
    assert len(records) == 3


def good_line(**overrides):
    record = {"id": str(uuid.uuid4()), "project": "acme", "metadata": {"a": "b"}}
    record.update(overrides)
    return json.dumps(record)


@pytest.mark.django_db
def test_a_file_with_bad_lines_names_them_and_writes_nothing(run, tmp_path):
    duplicate = str(uuid.uuid4())
    lines = [
        good_line(id=duplicate),
        good_line(),
        good_line(metadata={"k" * 65: "v"}),  # line 3: key too long
        "{not json",  # line 4
        "",  # blank lines are skipped
        good_line(id=duplicate),  # line 6: repeats line 1
        good_line(messages=[{"role": "robot"}]),  # line 7
        good_line(surprise=1),  # line 8
        good_line(created_at="yesterday"),  # line 9
        json.dumps([1, 2]),  # line 10
        good_line(metadata={"ai_disabled": "maybe"}),  # line 11
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    with pytest.raises(CommandError) as excinfo:
        run("import_conversations", str(path))

    message = str(excinfo.value)
    assert excinfo.value.returncode == 1
    assert "nothing was written" in message
    assert "Line(s): 3, 4, 6, 7, 8, 9, 10, 11" in message
    assert Conversation.objects.count() == 0


@pytest.mark.django_db
def test_bad_line_details_go_to_stderr(tmp_path, capsys):
    from io import StringIO

    from django.core.management import call_command

    path = tmp_path / "one-bad.jsonl"
    path.write_text(good_line() + "\n" + good_line(metadata={"x": 5}) + "\n", encoding="utf-8")
    err = StringIO()

    with pytest.raises(CommandError, match="Line\\(s\\): 2$"):
        call_command("import_conversations", str(path), stderr=err, stdout=StringIO())

    assert "one-bad.jsonl:2: metadata: Metadata value for 'x' must be a string" in err.getvalue()


@pytest.mark.django_db
def test_import_updates_in_place_and_audits_the_metadata_change(run, make_conversation, tmp_path):
    conversation = make_conversation({"a": "1"}, messages=[("user", "keep me")])
    path = tmp_path / "patch.jsonl"
    path.write_text(
        json.dumps({"id": f"conv_{conversation.pk.hex}", "project": "acme", "metadata": {"a": "2"}})
        + "\n",
        encoding="utf-8",
    )

    out, _ = run("import_conversations", str(path))

    conversation.refresh_from_db()
    assert "0 created, 1 updated, 0 unchanged" in out
    assert conversation.metadata == {"a": "2"}
    assert conversation.messages.get().content == "keep me"  # no "messages" key: kept
    change = MetadataChange.objects.get(actor="import_conversations")
    assert (change.actor_type, change.before, change.after) == ("command", {"a": "1"}, {"a": "2"})


@pytest.mark.django_db
def test_import_of_a_missing_file_is_a_command_error(run, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run("import_conversations", str(tmp_path / "nope.jsonl"))


@pytest.mark.django_db
def test_a_database_conflict_rolls_back_the_whole_import(run, tmp_path):
    message_id = str(uuid.uuid4())
    lines = [
        good_line(messages=[{"id": message_id, "role": "user", "content": "a"}]),
        good_line(messages=[{"id": message_id, "role": "user", "content": "b"}]),
    ]
    path = tmp_path / "conflict.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    with pytest.raises(CommandError, match="nothing was written"):
        run("import_conversations", str(path), "--chunk-size", "1")

    assert Conversation.objects.count() == 0
    assert Message.objects.count() == 0


@pytest.mark.django_db
def test_import_with_messages_replaces_the_thread(run, make_conversation, tmp_path):
    conversation = make_conversation({"a": "1"}, messages=[("user", "old")])
    record = {
        "id": str(conversation.pk),
        "project": "acme",
        "messages": [
            {"role": "user", "content": "new question"},
            {"role": "assistant", "content": "new answer", "direction": "outbound"},
        ],
    }
    path = tmp_path / "thread.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")

    run("import_conversations", str(path))

    conversation.refresh_from_db()
    assert [m.content for m in conversation.messages.order_by("id")] == [
        "new question",
        "new answer",
    ]
    assert conversation.message_count == 2
    assert conversation.metadata == {"a": "1"}
