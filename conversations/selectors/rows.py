"""Raw-SQL reads of whole conversation rows, for the hot paths on PostgreSQL.

The ORM spends more CPU compiling a one-row ``SELECT`` than PostgreSQL spends answering it,
so the two reads every API request makes — one conversation by id in a partition
(:func:`conversations.selectors.conversation_get`) and the fast write path's read
(:mod:`conversations.services.fastwrite`) — use SQL built once here from the model's own
metadata (table, columns) and turn the row into a model instance with ``Model.from_db``, as
the ORM does. Only PostgreSQL uses it (psycopg returns UUIDs, aware datetimes and booleans
ready to use; JSON columns are decoded by their field).

:func:`fetchone` runs such SQL with server-side parameter binding (every ``%s`` carries its
type cast, see :func:`cast`): psycopg sends the parameters apart from the text, so the text
is the same on every request, and psycopg prepares it on its first run on each connection
(``prepare=True``), so PostgreSQL parses and plans each statement once per connection instead
of on every request: about half of PostgreSQL's CPU per update (0.84–0.94 ms before,
0.41–0.43 after, ``benchmarks/request_cpu.py``). psycopg only honours ``prepare=True``
when the connection's ``prepare_threshold`` is not ``None`` (Django's default): the settings
give it one (``DB_PREPARED_STATEMENTS``, default on); with it off these statements are
parsed every time. Django's client-side binding would quote every parameter into the text
in Python. The statements still run through Django's cursor wrapper (see :func:`fetchone`),
so Django's instrumentation sees them and errors go through Django's error wrapper: a
dropped connection marks the connection unusable and Django closes it at the end of the
request.
"""

from __future__ import annotations

import functools
import re
import weakref
from collections.abc import Sequence

from django.db import connections

from conversations.models import Conversation

FIELDS = list(Conversation._meta.concrete_fields)
ATTNAMES = [field.attname for field in FIELDS]
_DECODED = [(index, field) for index, field in enumerate(FIELDS) if hasattr(field, "from_db_value")]
TABLE = Conversation._meta.db_table
PK = Conversation._meta.pk.column
PROJECT = Conversation._meta.get_field("project").column
ISOLATION_KEY = Conversation._meta.get_field("isolation_key").column


def cast(field, connection) -> str:
    """``%s::<type>`` for ``field``'s column type without a length (so an over-long value is
    refused by the column, as the ORM's insert would be, instead of being cut by the cast)."""
    return "%s::" + re.sub(r"\(.*\)", "", field.cast_db_type(connection))


#: Django's cursor wrapper around the server-binding cursor kept per psycopg connection (made
#: on first use; see :func:`connection_cursor`). Weak keys: a cursor goes with its connection.
_CURSORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@functools.cache
def _preparing_cursor_class():
    """A ``psycopg.Cursor`` whose ``execute`` asks psycopg to prepare (``prepare=True``), so
    that Django's cursor wrapper, which calls ``execute(sql, params)``, prepares it."""
    import psycopg

    class PreparingCursor(psycopg.Cursor):
        def execute(self, query, params=None, *, prepare=True, binary=None):
            return super().execute(query, params, prepare=prepare, binary=binary)

    return PreparingCursor


def connection_cursor(connection):
    """Django's cursor wrapper (``connection.make_cursor``) around the server-binding psycopg
    cursor kept for Django connection ``connection``'s current psycopg connection (made on
    first use; ``.cursor`` is the psycopg cursor).

    One per connection, reused by every :func:`fetchone` on it: making and closing a
    ``psycopg.Cursor`` costs almost as much client CPU as the statement it runs (0.04 of
    0.09 ms for the partition read alone, in a loop in one process; ``request_cpu.py``'s
    ``database client`` stage of a ``GET``: 0.13–0.15 ms with the cursor kept, 0.17–0.18
    without). Django gives each thread its own connection, so each cursor is used by one
    thread at a time; a new connection (after a reconnect) gets a new cursor. ``execute``
    discards the previous statement's result, so nothing is held but the last row read.
    """
    raw = connection.connection
    wrapped = _CURSORS.get(raw)
    if wrapped is None or wrapped.cursor.closed:
        wrapped = _CURSORS[raw] = connection.make_cursor(_preparing_cursor_class()(raw))
    return wrapped


def fetchone(sql: str, params: Sequence, using: str = "default"):
    """Run one statement that returns rows on ``using`` (PostgreSQL) with server-side
    binding, prepared on the connection (see module); its first row, or ``None``.

    The statement goes through Django's own cursor wrapper (``connection.make_cursor``), as
    every ORM statement does: the connection's execute wrappers (the request metrics,
    ``connection.execute_wrapper``) and APM tools that instrument Django's cursor (Sentry,
    OpenTelemetry) see it. While Django logs queries (``DEBUG``, ``assertNumQueries`` /
    ``django_assert_num_queries``) it runs on ``connection.cursor()`` instead, unprepared, so
    that the log holds its text (a server-binding psycopg cursor keeps none that Django
    reads). Raises Django's :class:`~django.db.DatabaseError` subclasses.
    """
    connection = connections[using]
    if connection.queries_logged:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    wrapped = connection_cursor(connection)
    wrapped.execute(sql, params)
    with connection.wrap_database_errors:
        return wrapped.cursor.fetchone()


def columns(alias: str = "c") -> str:
    """The conversation's columns, in :data:`ATTNAMES` order, qualified with ``alias``."""
    return ", ".join(f"{alias}.{field.column}" for field in FIELDS)


def partition_where(alias: str = "c") -> str:
    """``id = %s AND project = %s AND isolation_key = %s`` for ``alias`` (params in that
    order)."""
    return (
        f"{alias}.{PK} = %s::uuid AND {alias}.{PROJECT} = %s::bigint "
        f"AND {alias}.{ISOLATION_KEY} = %s::text"
    )


def to_conversation(values: Sequence, using: str) -> Conversation:
    """A :class:`Conversation` from a row of :func:`columns` (decoding JSON columns)."""
    values = list(values)
    connection = connections[using]
    for index, field in _DECODED:
        values[index] = field.from_db_value(values[index], None, connection)
    return Conversation.from_db(using, ATTNAMES, values)


_GET_IN_PARTITION = f"SELECT {columns()} FROM {TABLE} c WHERE {partition_where()}"


def conversation_in_partition(pk, project_id, isolation_key: str, using: str = "default"):
    """The conversation ``pk`` if it belongs to ``(project_id, isolation_key)``, else ``None``."""
    row = fetchone(_GET_IN_PARTITION, [pk, project_id, isolation_key], using)
    return None if row is None else to_conversation(row, using)
