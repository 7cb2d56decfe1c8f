"""The JSONL export at database speed: lines byte-identical to :func:`jsonl.dumps` of
:func:`jsonl.conversation_to_record` (the reference serializer, which SQLite still uses).

On PostgreSQL the conversations are read as plain tuples (no model instances) in keyset pages
of ``chunk_size`` along the primary key (``id > last id ORDER BY id LIMIT n``: an index walk,
never a sort of the whole table), each page's messages in one range scan of the
``conversation_id`` index, and each line is written by orjson with sorted keys — the same
bytes as ``json.dumps(…, ensure_ascii=False, sort_keys=True, separators=(",", ":"))``:
UTF-8 text unescaped, control characters as ``\\u00XX``, times as ``isoformat()`` in UTC
(microseconds only when non-zero; PostgreSQL formats them, and the UUIDs, as text), UUIDs
dashed.
The two writers differ only in how they print floats with an exponent and integers beyond
64 bits; PostgreSQL prints every JSON number as a plain decimal, so a message whose JSON fields
hold a fraction (``\\d.\\d`` anywhere in their text) or an integer of 19 digits or more is
written by the reference ``json.dumps`` instead. The whole export reads one REPEATABLE READ
snapshot (when it runs outside a transaction).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
from django.db import connections, router, transaction

from conversations.domain import clock, handoff
from conversations.models import Conversation, Message, Project
from conversations.selectors import conversation_export_iterator
from conversations.transfer.jsonl import (
    CONVERSATION_STRINGS,
    CONVERSATION_TIMES,
    MESSAGE_JSON,
    MESSAGE_LISTS,
    MESSAGE_STRINGS,
    conversation_to_record,
    dumps,
)

# A fraction, or an integer of 19+ digits (orjson reads those beyond 64 bits as floats).
_MAYBE_INEXACT = re.compile(r"\d\.\d|\d{19}")
_CONVERSATION_KEYS = ("id", "project", "metadata", "is_group", "group_name")
_MESSAGE_KEYS = ("id", "sent_at", "created_at", *MESSAGE_STRINGS)
_MESSAGE_JSON_KEYS = (*MESSAGE_JSON, *MESSAGE_LISTS)


def export_lines(*, project: Project | None = None, chunk_size: int = 2000) -> Iterator[bytes]:
    """Yield the export, one chunk at a time, as UTF-8 bytes of ``\\n``-terminated lines.

    Each chunk holds up to ``chunk_size`` conversations ordered by id; memory is bounded by
    one chunk whatever the table size.
    """
    if connections[router.db_for_read(Conversation)].vendor == "postgresql":
        yield from _postgresql_lines(project, chunk_size)
        return
    lines = []
    for conversation in conversation_export_iterator(project=project, chunk_size=chunk_size):
        record = conversation_to_record(conversation, conversation.messages.all())
        lines.append(dumps(record))
        if len(lines) >= chunk_size:
            yield ("\n".join(lines) + "\n").encode()
            lines = []
    if lines:
        yield ("\n".join(lines) + "\n").encode()


def _column(model, name: str) -> str:
    return model._meta.get_field(name).column


def _iso_text(column: str) -> str:
    """SQL for ``value.astimezone(UTC).isoformat()`` of a timestamptz column (NULL stays NULL):
    ``2026-11-23T16:05:44.123456+00:00``, the fraction only when non-zero, as Python prints it.
    PostgreSQL formats it, so no datetime object is built per value."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
        f"extract(microseconds FROM {utc})::bigint %% 1000000 <> 0 "
        f"THEN to_char({utc}, '.US') ELSE '' END || '+00:00'"
    )


def _postgresql_lines(project: Project | None, chunk_size: int) -> Iterator[bytes]:
    from psycopg.types.json import set_json_loads

    conv_table, project_table = Conversation._meta.db_table, Project._meta.db_table
    message_table = Message._meta.db_table
    columns = [
        "c.id::text",
        "p.name",
        "c.metadata",
        "c.is_group",
        f"c.{_column(Conversation, 'group_name')}",
        *(f"c.{_column(Conversation, f)}" for f in CONVERSATION_STRINGS),
        *(_iso_text(f"c.{_column(Conversation, f)}") for f in CONVERSATION_TIMES),
    ]
    keys = (*_CONVERSATION_KEYS, *CONVERSATION_STRINGS, *CONVERSATION_TIMES)
    # Keyset pages in id order: each page walks the primary key from where the last one ended
    # (no server-side sort of the whole table, no cursor held open); its messages are read by
    # _page_messages.
    conditions, params = [], []
    if project is not None:
        conditions, params = ["c.project_id = %s"], [project.pk]

    def page_sql(*more: str) -> str:
        where = " AND ".join((*conditions, *more)) or "TRUE"
        return (
            f"SELECT {', '.join(columns)} FROM {conv_table} c "
            f"JOIN {project_table} p ON p.id = c.project_id WHERE {where} ORDER BY c.id LIMIT %s"
        )

    first_page, next_page = page_sql(), page_sql("c.id > %s")
    message_columns = [
        "conversation_id::text",
        "public_id::text",
        _iso_text("sent_at"),
        _iso_text("created_at"),
        *(_column(Message, f) for f in MESSAGE_STRINGS),
        *(f"{_column(Message, f)}::text" for f in _MESSAGE_JSON_KEYS),
    ]
    messages_sql = (
        f"SELECT {', '.join(message_columns)} FROM {message_table} WHERE {{}} "
        "ORDER BY conversation_id, id"
    )
    option = orjson.OPT_SORT_KEYS
    # The database the router reads from: the replica inside replica.replica_reads().
    using = router.db_for_read(Conversation)
    connection = connections[using]
    now = clock.now()
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        connection.ensure_connection()
        raw = connection.connection
        if outermost:  # one snapshot for every page, conversations and messages alike
            with raw.cursor() as setup:
                setup.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        with raw.cursor() as rows, raw.cursor() as message_cursor:
            set_json_loads(orjson.loads, rows)
            rows.execute(first_page, [*params, chunk_size])
            while True:
                chunk = rows.fetchall()
                if not chunk:
                    return
                after = chunk[-1][0]
                message_cursor.execute(*_page_messages(messages_sql, chunk, whole=project is None))
                threads: dict[str, list] = {row[0]: [] for row in chunk}
                exact: set[str] = set()  # conversations to write with json.dumps
                for message in message_cursor.fetchall():
                    record, needs_exact = _message_record(message)
                    threads[message[0]].append(record)
                    if needs_exact:
                        exact.add(message[0])
                out = []
                for row in chunk:
                    record = dict(zip(keys, row, strict=True))
                    # A timed handoff that has ended exports as readers see it: AI on.
                    record["metadata"] = handoff.effective(record["metadata"], now)
                    record["messages"] = threads[row[0]]
                    if row[0] in exact:
                        out.append(_exact(record))
                        continue
                    out.append(orjson.dumps(record, option=option))
                out.append(b"")
                yield b"\n".join(out)
                if len(chunk) < chunk_size:
                    return
                rows.execute(next_page, [*params, after, chunk_size])


def _page_messages(sql: str, chunk: list, *, whole: bool) -> tuple[str, list]:
    """``(sql, params)`` reading the messages of a page's conversations (``chunk``: rows whose
    first value is the id, in id order) and no others; ``sql`` has one ``{}`` for the
    condition. Exporting the whole store, a page is every conversation between its first and
    last id, so its messages are one range of the ``conversation_id`` index. Exporting one
    project, other projects' conversations lie between those ids (UUIDs are random: a page
    of a small project can span the whole table), so the page's ids are named."""
    if whole:
        return sql.format("conversation_id BETWEEN %s AND %s"), [chunk[0][0], chunk[-1][0]]
    return sql.format("conversation_id = ANY(%s::uuid[])"), [[row[0] for row in chunk]]


def _message_record(row) -> tuple[dict, bool]:
    """``({key: value}, needs_exact)`` for one message row; JSON fields arrive as text."""
    n = len(_MESSAGE_KEYS) + 1
    record = dict(zip(_MESSAGE_KEYS, row[1:n], strict=True))
    needs_exact = False
    for key, text in zip(_MESSAGE_JSON_KEYS, row[n:], strict=True):
        if text is None:
            record[key] = None
            continue
        if _MAYBE_INEXACT.search(text):
            needs_exact = True
            record[key] = json.loads(text)
            continue
        record[key] = orjson.loads(text)
    return record, needs_exact


def _default(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _exact(record: dict) -> bytes:
    """The reference writer (``jsonl.dumps``) for a record holding times and UUIDs."""
    return json.dumps(
        record, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_default
    ).encode()
