"""Checked import records as PostgreSQL binary COPY data for the staging tables of
:class:`conversations.transfer.importing_pg.PostgresImport`.

Formatting is apart from sending so that it can run in another process
(:mod:`conversations.transfer.importing_pipeline`): :meth:`CopyFormatter.format` turns a chunk of
records into bytes with psycopg's own binary COPY formatter (``psycopg.Copy`` writing to a
buffer through ``psycopg.copy.FileWriter``: no I/O on the cursor's connection, only its type
adapters), and ``PostgresImport.stage_formatted`` sends them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO
from operator import itemgetter

import orjson
from django.db import connection
from django.db.models import JSONField
from psycopg import Copy
from psycopg.copy import FileWriter
from psycopg.types.json import Jsonb, set_json_dumps

from conversations.domain import metadata as rules
from conversations.domain.limits import message_size
from conversations.models import Conversation, Message
from conversations.transfer.importing import _MESSAGE_FIELDS, ConversationImport, _message_defaults
from conversations.transfer.jsonl import CONVERSATION_STRINGS, CONVERSATION_TIMES

# Keys a record may omit, each with a bit in the staged row's ``mask``.
OPTIONAL = (*CONVERSATION_STRINGS, *CONVERSATION_TIMES, "is_group", "group_name", "metadata")
BIT = {name: 1 << index for index, name in enumerate(OPTIONAL)}
MESSAGES_BIT = 1 << len(OPTIONAL)
_MESSAGE_JSON = {f.name for f in Message._meta.concrete_fields if isinstance(f, JSONField)} & set(
    _MESSAGE_FIELDS
)
_JSON_NOT_NULL = sorted(_MESSAGE_JSON - {f.name for f in Message._meta.concrete_fields if f.null})

# PostgreSQL's names of column types, as psycopg's binary COPY knows them.
_TYPE_NAMES = {
    "timestamp with time zone": "timestamptz",
    "boolean": "bool",
    "integer": "int4",
    "bigint": "int8",
    "smallint": "int2",
    "varchar": "text",  # the same binary form; the column's length limit still applies
}


def _copy_type(db_type: str) -> str:
    """``"varchar(255)"`` → ``"text"``, ``"timestamp with time zone"`` → ``"timestamptz"``…"""
    base = db_type.split("(")[0].strip()
    return _TYPE_NAMES.get(base, base)


def conversation_column_types() -> dict[str, str]:
    """The staging table's optional conversation columns: name → SQL type (``varchar(200)``…)."""
    return {name: Conversation._meta.get_field(name).db_type(connection) for name in OPTIONAL}


def message_column_types() -> dict[str, str]:
    """The staging table's message columns: name → SQL type."""
    return {name: Message._meta.get_field(name).db_type(connection) for name in _MESSAGE_FIELDS}


@dataclass
class Formatted:
    """One chunk as COPY data: ``conversations`` (every record, binary COPY with header and
    trailer), ``messages`` (the threads' rows, or ``b""`` when none), ``count`` records, the
    ``projects`` they name."""

    conversations: bytes
    messages: bytes
    count: int
    projects: set[str] = field(default_factory=set)


class CopyFormatter:
    """Formats chunks of checked records as the staging tables' binary COPY rows.

    ``cursor``: a psycopg cursor, used for its type adapters only (nothing is sent on its
    connection). ``now``: the ``created_at`` of a message that has none (the model default).
    """

    def __init__(self, cursor, *, now: datetime):
        conn = cursor.connection
        # Staged metadata is checked string pairs, which orjson writes exactly; message JSON
        # keeps json.dumps, as Django's JSONField writes it (integers beyond 64 bits, NaN).
        self._conv_cursor, self._msg_cursor = conn.cursor(), conn.cursor()
        set_json_dumps(orjson.dumps, self._conv_cursor)
        types = conversation_column_types()
        self._conv_types = [
            "int4",
            "uuid",
            "text",
            "int4",
            *(_copy_type(types[name]) for name in OPTIONAL),
            "bool",
            "int4",
        ]
        message_types = message_column_types()
        self._msg_types = [
            "uuid",
            "int4",
            *(_copy_type(message_types[name]) for name in _MESSAGE_FIELDS),
            "int4",
        ]
        self.now = now
        self.message_defaults = {**_message_defaults(), "created_at": now}

    def format(self, chunk: list[tuple[int, ConversationImport]]) -> Formatted:
        """COPY data of ``(line number, record)`` pairs, in the staging tables' column order
        (``PostgresImport``'s ``import_conv`` and ``import_msg``)."""
        messages = []
        projects: set[str] = set()
        head, bits = OPTIONAL[:-1], BIT.__getitem__
        conversations = BytesIO()
        with Copy(self._conv_cursor, binary=True, writer=FileWriter(conversations)) as copy:
            copy.set_types(self._conv_types)
            write, add_project = copy.write_row, projects.add
            for line, record in chunk:
                fields = record.fields
                mask = sum(map(bits, fields))
                metadata = fields.get("metadata")
                message_count = None
                if record.messages is not None:
                    mask |= MESSAGES_BIT
                    message_count = len(record.messages)
                    if record.messages:
                        messages.append((record.id, record.messages))
                write(
                    (
                        line,
                        record.id,
                        record.project,
                        mask,
                        *map(fields.get, head),
                        metadata,
                        rules.is_ai_disabled(metadata) if "metadata" in fields else None,
                        message_count,
                    )
                )
                add_project(record.project)
        formatted = Formatted(conversations.getvalue(), b"", len(chunk), projects)
        if messages:
            formatted.messages = self._format_messages(messages)
        return formatted

    def _format_messages(self, threads) -> bytes:
        defaults, out = self.message_defaults, BytesIO()
        with Copy(self._msg_cursor, binary=True, writer=FileWriter(out)) as copy:
            copy.set_types(self._msg_types)
            write, values_of = copy.write_row, itemgetter(*_MESSAGE_FIELDS)
            for conversation_id, thread in threads:
                for ordinal, message in enumerate(thread):
                    full = {**defaults, **message}
                    for name in _JSON_NOT_NULL:  # JSON null, where SQL NULL is not allowed
                        if full[name] is None:
                            full[name] = Jsonb(None)
                    # JSON fields: the column's binary dumper writes them with json.dumps, as
                    # Django's JSONField does. size_bytes is derived (limits.message_size).
                    write((conversation_id, ordinal, *values_of(full), message_size(**full)))
        return out.getvalue()
