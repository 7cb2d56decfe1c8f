"""The floor for ``update_throughput.py``: the least a server can do for each measured request.

A plain WSGI callable, no framework, one persistent autocommit psycopg connection per worker
thread, and ONE statement per request:

- ``POST /openai/v1/conversations/{id}`` and ``PUT /telnyx/v2/ai/conversations/{id}``
  (``{"metadata": {...}}``): the merge — sent keys set, a ``null`` value removes its key —
  with the 16-pair limit checked on the merged result in the same ``UPDATE`` (see
  :data:`MERGE_SQL`; a concurrent writer cannot slip past it: PostgreSQL re-evaluates the
  ``WHERE`` on the newest row version), ``ai_disabled`` mirrored, ``version`` bumped;
- ``PATCH /agentphone/v1/conversations/{id}``: the replace, same limit (:data:`REPLACE_SQL`);
- ``GET /openai/v1/conversations/{id}``: one ``SELECT`` (:data:`GET_SQL`).

Each answers a small JSON conversation object (``{"id": "conv_…", "object": "conversation",
"created_at": <unix s>, "metadata": {...}}``). A body that is not ``{"metadata": object}``
answers 400, a merge past 16 pairs 400, an unknown id 404. It skips everything convstore adds
on top — API-key authentication, the partition check, the key and value rules, the audit row,
the webhook outbox, the request id, DRF — so convstore's figures divided by its figures show
what all of that costs.

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

_PATHS = {
    ("POST", "openai"): "merge",
    ("GET", "openai"): "get",
    ("PUT", "telnyx"): "merge",
    ("PATCH", "agentphone"): "replace",
}
_PATH = re.compile(
    r"^/(?:(openai)/v1/conversations|(telnyx)/v2/ai/conversations|(agentphone)/v1/conversations)"
    r"/(?:conv_)?([0-9a-fA-F]{32}|[0-9a-fA-F-]{36})$"
)
MAX_PAIRS = 16

#: The merge: ``(stored || patch) - <keys sent as null>``, refused past 16 pairs.
MERGE_SQL = """
    UPDATE conversations_conversation
       SET metadata = (COALESCE(metadata, '{}'::jsonb) || %(patch)s::jsonb)
                      - ARRAY(SELECT key FROM jsonb_each(%(patch)s::jsonb)
                               WHERE jsonb_typeof(value) = 'null'),
           ai_disabled = COALESCE((COALESCE(metadata, '{}'::jsonb) || %(patch)s::jsonb)
                                  ->> 'ai_disabled' = 'true', false),
           version = version + 1,
           updated_at = now()
     WHERE id = %(id)s
       AND (SELECT count(*) FROM jsonb_object_keys(
               (COALESCE(metadata, '{}'::jsonb) || %(patch)s::jsonb)
               - ARRAY(SELECT key FROM jsonb_each(%(patch)s::jsonb)
                        WHERE jsonb_typeof(value) = 'null'))) <= %(limit)s
 RETURNING id, created_at, metadata
"""

#: The replace (AgentPhone ``PATCH``): the object sent, refused past 16 pairs.
REPLACE_SQL = """
    UPDATE conversations_conversation
       SET metadata = %(patch)s::jsonb,
           ai_disabled = COALESCE(%(patch)s::jsonb ->> 'ai_disabled' = 'true', false),
           version = version + 1,
           updated_at = now()
     WHERE id = %(id)s
       AND (SELECT count(*) FROM jsonb_object_keys(%(patch)s::jsonb)) <= %(limit)s
 RETURNING id, created_at, metadata
"""

GET_SQL = "SELECT id, created_at, metadata FROM conversations_conversation WHERE id = %(id)s"


class FloorApp:
    """WSGI app doing one statement per request (see the module docstring).

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
        fmt = match and (match.group(1) or match.group(2) or match.group(3))
        action = _PATHS.get((environ.get("REQUEST_METHOD"), fmt))
        if action is None:
            return _json(start_response, "404 Not Found", {"error": "not found"})
        params = {"id": uuid.UUID(match.group(4)), "limit": MAX_PAIRS}
        if action == "get":
            sql = GET_SQL
        else:
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = json.loads(environ["wsgi.input"].read(length))
                patch = body["metadata"]
                if not isinstance(patch, dict):
                    raise TypeError("metadata must be an object")
            except (ValueError, KeyError, TypeError) as exc:
                return _json(start_response, "400 Bad Request", {"error": str(exc)})
            params["patch"] = Jsonb(patch)
            sql = MERGE_SQL if action == "merge" else REPLACE_SQL
        with self.connection().cursor() as cur:
            cur.execute(sql, params)
            row = cur.fetchone()
        if row is None:
            if action != "get":  # the error path only: was it the id or the limit?
                with self.connection().cursor() as cur:
                    cur.execute(GET_SQL, params)
                    if cur.fetchone() is not None:
                        error = {"error": f"metadata may hold at most {MAX_PAIRS} pairs"}
                        return _json(start_response, "400 Bad Request", error)
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
