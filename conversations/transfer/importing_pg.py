"""The JSONL import at database speed on PostgreSQL: COPY into temporary tables, then a few
set-based statements — the same upsert as
:func:`conversations.transfer.importing.conversations_import`
(which SQLite keeps using), shown equal by the same tests on both databases.

Use, inside ONE transaction (the caller's ``transaction.atomic()``)::

    staging = PostgresImport(actor=..., now=...)
    chunk = staging.formatter.format([(line_number, ConversationImport), …])
    staging.stage_formatted(chunk)                           # as many chunks as needed
    staging.duplicate_lines()                                # [(line, first_line, id)]
    created, updated, unchanged = staging.apply()

Nothing but the temporary tables (dropped at commit or rollback) is written before
:meth:`apply`, so a caller checks every line first and writes only if all are good. Memory is
one chunk of records. Semantics, as in ``conversations_import``: upsert by id; a key missing
from a record keeps the stored value (or the model default for a new row; times default to
``now``); a row is updated, with ``version`` + 1, only when a present field differs
(``ai_disabled`` follows ``metadata``, ``message_count`` follows ``messages``); a changed
metadata object is audited (``create`` for a new row with metadata, ``replace`` or ``clear``);
a thread is replaced only when it differs from the stored one; no events are sent. Changed
rows are locked (``FOR UPDATE``) before they are compared and written.

Staging is binary COPY, its rows formatted by :class:`.copy_rows.CopyFormatter` (here, or in
worker processes: :meth:`PostgresImport.stage_formatted`); the transaction runs with
``work_mem`` :data:`WORK_MEM` and without JIT compilation. Into an empty store with at least
``rebuild_indexes_from`` records, it locks the conversation table (ACCESS EXCLUSIVE, until
commit) and rebuilds the secondary indexes after the insert instead of updating them row by
row (:meth:`PostgresImport._indexes_to_rebuild`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import connection

from conversations.domain import metadata as rules
from conversations.models import Conversation, Message, MetadataChange, Project
from conversations.services.actors import Actor
from conversations.services.api_keys import project_get_or_create
from conversations.transfer.copy_rows import (
    BIT,
    MESSAGES_BIT,
    OPTIONAL,
    CopyFormatter,
    Formatted,
    conversation_column_types,
    message_column_types,
)
from conversations.transfer.importing import _MESSAGE_FIELDS
from conversations.transfer.jsonl import CONVERSATION_STRINGS, CONVERSATION_TIMES

WORK_MEM = "64MB"  # PostgreSQL work_mem for the upsert's transaction (bounded server memory)
MAINTENANCE_WORK_MEM = "256MB"  # for rebuilding the indexes (PostgresImport._indexes_to_rebuild)
REBUILD_INDEXES_FROM = 100_000  # records into an empty store from which indexes are rebuilt


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _col(model, name: str) -> str:
    return _q(model._meta.get_field(name).column)


class PostgresImport:
    """Stage records with COPY, report duplicate ids, then upsert them set-based."""

    def __init__(
        self, *, actor: Actor, now: datetime, rebuild_indexes_from: int = REBUILD_INDEXES_FROM
    ):
        self.actor, self.now = actor, now
        self.rebuild_indexes_from = rebuild_indexes_from
        self.total = 0
        self.projects: set[str] = set()
        self.cursor = connection.cursor().cursor  # the psycopg cursor under Django's wrapper
        self.formatter = CopyFormatter(self.cursor, now=now)
        # Server memory for this transaction's sorts, hashes and GIN pending-list merges (the
        # three GIN indexes on metadata take most of a large insert at the default 4 MB).
        self.cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        # The staging tables are never analysed, so the planner guesses their joins costly
        # enough to compile them (JIT): half a second at a million rows, for statements that
        # run once; without it they take no longer.
        self.cursor.execute("SET LOCAL jit = off")
        # Left over only when an earlier import ran in the same (still open) transaction.
        self.cursor.execute(
            "DROP TABLE IF EXISTS import_conv, import_msg, import_changed, import_replace"
        )
        types = conversation_column_types()
        self.cursor.execute(
            "CREATE TEMPORARY TABLE import_conv (line integer, id uuid, project text, "
            "mask integer, "
            + ", ".join(f"{_q(name)} {types[name]}" for name in OPTIONAL)
            + ", ai_disabled boolean, message_count integer) ON COMMIT DROP"
        )
        message_types = message_column_types()
        self.cursor.execute(
            "CREATE TEMPORARY TABLE import_msg (conversation_id uuid, ordinal integer, "
            + ", ".join(f"{_q(name)} {message_types[name]}" for name in _MESSAGE_FIELDS)
            + ", size_bytes integer) ON COMMIT DROP"
        )
        # Binary COPY: the server parses no text (a third of the time text COPY takes).
        self._copy_conv = (
            "COPY import_conv (line, id, project, mask, "
            + ", ".join(_q(name) for name in OPTIONAL)
            + ", ai_disabled, message_count) FROM STDIN (FORMAT BINARY)"
        )
        self._copy_msg = (
            "COPY import_msg (conversation_id, ordinal, "
            + ", ".join(_q(name) for name in _MESSAGE_FIELDS)
            + ", size_bytes) FROM STDIN (FORMAT BINARY)"
        )

    # --- pass 1: stage ---------------------------------------------------------------------

    def stage_formatted(self, formatted: Formatted) -> None:
        """COPY one chunk already formatted by a :class:`CopyFormatter` (in this process or
        another) into the staging tables."""
        with connection.wrap_database_errors:  # psycopg errors become django.db errors
            with self.cursor.copy(self._copy_conv) as copy:
                copy.write(formatted.conversations)
            if formatted.messages:
                with self.cursor.copy(self._copy_msg) as copy:
                    copy.write(formatted.messages)
        self.total += formatted.count
        self.projects |= formatted.projects

    def duplicate_lines(self, limit: int = 10_000) -> list[tuple[int, int, Any]]:
        """``(line, first line, id)`` for each later line repeating an id, at most ``limit``."""
        self.cursor.execute(
            "SELECT id, lines FROM (SELECT id, array_agg(line ORDER BY line) AS lines "
            "FROM import_conv GROUP BY id HAVING count(*) > 1) d LIMIT %s",
            [limit],
        )
        found = [
            (later, lines[0], pk) for pk, lines in self.cursor.fetchall() for later in lines[1:]
        ]
        return sorted(found)[:limit]

    # --- pass 2: write -----------------------------------------------------------------------

    def apply(self) -> tuple[int, int, int]:
        """Upsert the staged records; returns ``(created, updated, unchanged)``.

        Raises:
            django.db.IntegrityError: a message id already belongs to another conversation.
        """
        with connection.wrap_database_errors:
            return self._apply()

    def _apply(self) -> tuple[int, int, int]:
        for name in sorted(self.projects):
            project_get_or_create(name=name)
        cur, now, actor = self.cursor, self.now, self.actor
        conv = _q(Conversation._meta.db_table)
        audit_table = _q(MetadataChange._meta.db_table)
        message_table = _q(Message._meta.db_table)
        project_id = _col(Conversation, "project")
        rebuild = self._indexes_to_rebuild(conv)
        # s: a staged record, t: its project's id, c: the stored row.
        staged = (
            f"import_conv s JOIN (SELECT id AS project_id, name FROM "
            f"{_q(Project._meta.db_table)}) t ON t.name = s.project"
        )

        def has(name: str) -> str:
            return f"(s.mask & {BIT[name]}) <> 0"

        def new_value(name: str) -> str:
            return f"CASE WHEN {has(name)} THEN s.{_q(name)} ELSE c.{_col(Conversation, name)} END"

        differs = [
            f"({has(name)} AND s.{_q(name)} IS DISTINCT FROM c.{_col(Conversation, name)})"
            for name in OPTIONAL
        ]
        differs += [
            f"({has('metadata')} AND s.ai_disabled IS DISTINCT FROM c.ai_disabled)",
            f"((s.mask & {MESSAGES_BIT}) <> 0 AND s.message_count IS DISTINCT FROM "
            f"c.{_col(Conversation, 'message_count')})",
            f"t.project_id <> c.{project_id}",
        ]
        # Rows that will change, locked, with their metadata before the change.
        cur.execute(
            "CREATE TEMPORARY TABLE import_changed (id uuid PRIMARY KEY, before jsonb, "
            "metadata_changed boolean) ON COMMIT DROP"
        )
        cur.execute(
            f"WITH locked AS (SELECT c.id, c.metadata AS before, "
            f"({has('metadata')} AND s.metadata IS DISTINCT FROM c.metadata) AS metadata_changed "
            f"FROM {conv} c JOIN {staged} ON s.id = c.id "
            f"WHERE {' OR '.join(differs)} FOR UPDATE OF c) "
            f"INSERT INTO import_changed SELECT * FROM locked"
        )
        updated = cur.rowcount

        # New rows: present values, else the model's defaults (times: now).
        defaults = {
            name: Conversation._meta.get_field(name).get_default()
            for name in (*CONVERSATION_STRINGS, "is_group", "group_name")
        }
        insert_columns, select_values, params = [], [], []
        for name in OPTIONAL:
            insert_columns.append(_col(Conversation, name))
            if name in CONVERSATION_TIMES:
                default_sql, default = "%s", now
            elif name == "metadata":
                default_sql, default = "%s::jsonb", json.dumps(Conversation().metadata)
            else:
                default_sql, default = "%s", defaults[name]
            select_values.append(f"CASE WHEN {has(name)} THEN s.{_q(name)} ELSE {default_sql} END")
            params.append(default)
        insert_columns += [
            _col(Conversation, "id"),
            project_id,
            _col(Conversation, "ai_disabled"),
            _col(Conversation, "message_count"),
            _col(Conversation, "version"),
        ]
        select_values += [
            "s.id",
            "t.project_id",
            f"CASE WHEN {has('metadata')} THEN s.ai_disabled ELSE %s END",
            f"CASE WHEN (s.mask & {MESSAGES_BIT}) <> 0 THEN s.message_count ELSE 0 END",
            "%s",
        ]
        params += [rules.is_ai_disabled(Conversation().metadata), Conversation().version]
        audit_columns = (
            "conversation_id, changed_at, actor_type, actor, api_key_id, user_id, source, "
            "action, before, after, request_id"
        )
        who = [now, actor.kind, actor.audit_label, None, getattr(actor.user, "pk", None)]
        # The new rows and their ``create`` audit rows in one statement. A record without
        # metadata gets the model default ({}), which is falsy like an empty or null one, so
        # the stored value alone says whether to audit.
        cur.execute(
            f"WITH created AS (INSERT INTO {conv} ({', '.join(insert_columns)}) "
            f"SELECT {', '.join(select_values)} FROM {staged} "
            f"WHERE NOT EXISTS (SELECT 1 FROM {conv} c WHERE c.id = s.id) "
            f"RETURNING {_col(Conversation, 'id')} AS id, metadata), "
            f"audited AS (INSERT INTO {audit_table} ({audit_columns}) "
            f"SELECT id, %s, %s, %s, %s, %s, %s, %s, NULL, metadata, '' FROM created "
            f"WHERE metadata IS NOT NULL AND metadata <> '{{}}'::jsonb) "
            f"SELECT count(*) FROM created",
            [*params, *who, actor.source, MetadataChange.Action.CREATE],
        )
        created = cur.fetchone()[0]

        # Changed rows: present values over stored ones, version + 1.
        assignments = [f"{_col(Conversation, name)} = {new_value(name)}" for name in OPTIONAL]
        assignments += [
            f"{project_id} = t.project_id",
            f"{_col(Conversation, 'ai_disabled')} = CASE WHEN {has('metadata')} "
            f"THEN s.ai_disabled ELSE c.{_col(Conversation, 'ai_disabled')} END",
            f"{_col(Conversation, 'message_count')} = CASE WHEN (s.mask & {MESSAGES_BIT}) <> 0 "
            f"THEN s.message_count ELSE c.{_col(Conversation, 'message_count')} END",
            f"{_col(Conversation, 'version')} = c.{_col(Conversation, 'version')} + 1",
        ]
        if updated:
            cur.execute(
                f"UPDATE {conv} c SET {', '.join(assignments)} FROM {staged} "
                f"JOIN import_changed x ON x.id = s.id WHERE c.id = s.id"
            )
            truthy = "(s.metadata IS NOT NULL AND s.metadata <> '{}'::jsonb)"
            cur.execute(
                f"INSERT INTO {audit_table} ({audit_columns}) "
                f"SELECT s.id, %s, %s, %s, %s, %s, %s, CASE WHEN {truthy} THEN %s ELSE %s END, "
                f"x.before, s.metadata, '' FROM import_conv s JOIN import_changed x ON x.id = s.id "
                f"WHERE x.metadata_changed",
                [
                    *who,
                    actor.source,
                    MetadataChange.Action.REPLACE,
                    MetadataChange.Action.CLEAR,
                ],
            )
        self._apply_messages(message_table)
        if rebuild:
            # CREATE INDEX and ADD CONSTRAINT refuse a table with trigger events pending (the
            # foreign keys not dropped, all on NULLs here): run them now.
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cur.execute("SET CONSTRAINTS ALL DEFERRED")
            cur.execute(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
            for statement in rebuild:
                cur.execute(statement)
        return created, updated, self.total - created - updated

    def _indexes_to_rebuild(self, conv: str) -> list[str]:
        """Into an empty store, and for at least ``rebuild_indexes_from`` records: lock the
        tables the import writes (ACCESS EXCLUSIVE, until commit), drop their secondary
        indexes and the foreign keys between them, and return the
        statements that bring them back, to run after the inserts: a sorted index build
        instead of one random insert per row and index, one validating join per foreign key
        instead of one trigger query per row. Returns ``[]`` (nothing done) otherwise. The
        primary keys, unique constraints and unique indexes (a conditional ``UniqueConstraint``
        is one) stay; names and definitions come back exactly
        (``pg_get_indexdef``, ``pg_get_constraintdef``)."""
        cur = self.cursor
        if not self.rebuild_indexes_from or self.total < self.rebuild_indexes_from:
            return []
        cur.execute(f"SELECT EXISTS (SELECT 1 FROM {conv})")
        if cur.fetchone()[0]:
            return []
        tables = [m._meta.db_table for m in (Conversation, MetadataChange, Message)]
        cur.execute(f"LOCK TABLE {', '.join(map(_q, tables))} IN ACCESS EXCLUSIVE MODE")
        cur.execute(f"SELECT EXISTS (SELECT 1 FROM {conv})")  # again, now that none can write
        if cur.fetchone()[0]:
            return []
        # Empty, so are the tables whose foreign keys point at it: the messages, the audit.
        cur.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisunique AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
            "ORDER BY i.indexrelid",
            [tables],
        )
        indexes = cur.fetchall()
        cur.execute(
            "SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) "
            "AND (conrelid = %s::regclass OR confrelid = %s::regclass) ORDER BY oid",
            [tables, tables[0], tables[0]],
        )
        foreign_keys = cur.fetchall()
        for name, _ in indexes:
            cur.execute(f"DROP INDEX {name}")
        for table, name, _ in foreign_keys:
            cur.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        return [definition for _, definition in indexes] + [
            f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"
            for table, name, definition in foreign_keys
        ]

    def _apply_messages(self, message_table: str) -> None:
        """Replace each staged thread that differs from the stored one (new rows included)."""
        cur = self.cursor
        columns = [_col(Message, name) for name in _MESSAGE_FIELDS]
        staged = ", ".join(f"g.{_q(name)}" for name in _MESSAGE_FIELDS)
        stored = ", ".join(f"m.{column}" for column in columns)
        conversation_id = _col(Message, "conversation")
        cur.execute(
            f"CREATE TEMPORARY TABLE import_replace ON COMMIT DROP AS "
            f"WITH stored AS (SELECT m.{conversation_id} AS cid, row_number() OVER "
            f"(PARTITION BY m.{conversation_id} ORDER BY m.id) - 1 AS ordinal, {stored} "
            f"FROM {message_table} m JOIN import_conv s ON s.id = m.{conversation_id} "
            f"AND (s.mask & {MESSAGES_BIT}) <> 0) "
            f"SELECT DISTINCT coalesce(m.cid, g.conversation_id) AS id FROM stored m "
            f"FULL JOIN import_msg g ON g.conversation_id = m.cid AND g.ordinal = m.ordinal "
            f"WHERE m.cid IS NULL OR g.conversation_id IS NULL "
            f"OR ROW({stored}) IS DISTINCT FROM ROW({staged})"
        )
        if not cur.rowcount:
            return
        cur.execute(
            f"DELETE FROM {message_table} "
            f"WHERE {conversation_id} IN (SELECT id FROM import_replace)"
        )
        cur.execute(
            f"INSERT INTO {message_table} ({conversation_id}, {', '.join(columns)}, "
            f"{_col(Message, 'size_bytes')}) "
            f"SELECT g.conversation_id, {staged}, g.size_bytes FROM import_msg g "
            f"WHERE g.conversation_id IN (SELECT id FROM import_replace) "
            f"ORDER BY g.conversation_id, g.ordinal"
        )
