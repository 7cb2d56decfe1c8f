"""The floor for ``update_throughput.py``: the least a server can do for one metadata update.

A plain WSGI callable, no framework: it parses the JSON body of
``POST /openai/v1/conversations/{id}`` (``{"metadata": {...}}``), runs ONE statement::

    UPDATE conversations_conversation SET metadata = COALESCE(metadata, '{}') || %s::jsonb, ...
    WHERE id = %s RETURNING id, created_at, metadata

in autocommit on a persistent psycopg connection (one per worker thread), and answers the
OpenAI ``Conversation`` object (``{"id": "conv_…", "object": "conversation", "created_at":
<unix s>, "metadata": {...}}``). It skips everything convstore adds on top — API-key
authentication, the partition check, the metadata rules, the row lock, the audit row, the
request id, DRF — so convstore's figures divided by its figures show what that costs.

Serve it with ``gunicorn benchmarks.floor_app:application``; the database comes from
``FLOOR_DATABASE_URL`` (or ``DATABASE_URL``), a libpq URL such as
``postgres://postgres@127.0.0.1:5432/convstore_bench``.
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid

import psycopg
from psycopg.types.json import Jsonb

_PATH = re.compile(r"^/openai/v1/conversations/(?:conv_)?([0-9a-fA-F]{32})$")

UPDATE_SQL = """
    UPDATE conversations_conversation
       SET metadata = COALESCE(metadata, '{}'::jsonb) || %s::jsonb, updated_at = now()
     WHERE id = %s
 RETURNING id, created_at, metadata
"""


class FloorApp:
    """WSGI app doing one single-row metadata merge per request.

    ``dsn`` is a libpq connection string or URL. Each thread keeps its own connection open
    for the life of the process (as Django does with ``CONN_MAX_AGE``); :meth:`close` closes
    the calling thread's connection.
    """

    def __init__(self, dsn: str):
        self.dsn = dsn
        self._local = threading.local()

    def connection(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = psycopg.connect(self.dsn, autocommit=True)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __call__(self, environ, start_response):
        match = _PATH.match(environ.get("PATH_INFO", ""))
        if environ.get("REQUEST_METHOD") != "POST" or match is None:
            return _json(start_response, "404 Not Found", {"error": "not found"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length))
            patch = body["metadata"]
            if not isinstance(patch, dict):
                raise TypeError("metadata must be an object")
        except (ValueError, KeyError, TypeError) as exc:
            return _json(start_response, "400 Bad Request", {"error": str(exc)})
        with self.connection().cursor() as cur:
            cur.execute(UPDATE_SQL, (Jsonb(patch), uuid.UUID(hex=match.group(1))))
            row = cur.fetchone()
        if row is None:
            return _json(start_response, "404 Not Found", {"error": "not found"})
        pk, created_at, metadata = row
        return _json(
            start_response,
            "200 OK",
            {
                "id": f"conv_{pk.hex}",
                "object": "conversation",
                "created_at": int(created_at.timestamp()),
                "metadata": metadata or {},
            },
        )


def _json(start_response, status: str, payload: dict) -> list[bytes]:
    data = json.dumps(payload).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


application = FloorApp(
    os.environ.get("FLOOR_DATABASE_URL")
    or os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/convstore_bench")
)
