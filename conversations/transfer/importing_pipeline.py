"""Pass 1 of the PostgreSQL import on several cores: check each line and format the good ones
as COPY data in worker processes, while this process only reads the file and sends the data.

Checking a line (:func:`conversations.transfer.jsonl.parse_raw_lines`: JSON, the schema, the
metadata rules) and formatting its COPY row (:class:`.copy_rows.CopyFormatter`) is Python work,
about 26 µs a conversation on one core; PostgreSQL's COPY ingests the rows meanwhile. With ``jobs``
worker processes the lines are checked ``jobs`` chunks at a time.

Limits:

- ``jobs`` worker processes (``import_conversations --jobs``, default :data:`JOBS`), started
  by ``fork`` (a ``ProcessPoolExecutor``) after ``gc.freeze()``, so they share this process's
  loaded code and data (about 25 MB of private memory each); each opens its own database
  connection, used only for psycopg's type adapters (nothing is read or written through it).
- A worker that dies raises ``BrokenProcessPool`` in the caller (the import fails).
- At most ``2 × jobs`` chunks of ``chunk_size`` lines are in flight (read, being checked, or
  checked and waiting to be sent), so memory stays bounded by the chunk size, not the file.
- ``jobs=0`` checks in this process, one chunk at a time (what SQLite's path does too).

Chunks come back in file order, so line numbers and the first of two repeated ids stay those
of the file.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from multiprocessing.util import Finalize

from django.db import connection

from conversations.transfer.copy_rows import CopyFormatter, Formatted
from conversations.transfer.jsonl import RecordError, parse_raw_lines

JOBS = 2  # worker processes by default: the development machine's cores (see the module)


@dataclass
class CheckedChunk:
    """One chunk of lines, checked: the good records as COPY data, the bad lines as
    ``(line number, message)``."""

    formatted: Formatted
    bad: list[tuple[int, str]]


def checked_chunks(
    lines: Iterable[bytes], *, chunk_size: int, jobs: int, formatter: CopyFormatter
) -> Iterator[CheckedChunk]:
    """Check the file's ``lines`` (bytes, numbered from 1) ``chunk_size`` at a time, in
    ``jobs`` worker processes (``0``: here, with ``formatter``); yields the chunks in order."""
    batches = _batches(lines, chunk_size)
    if jobs == 0:
        for first, batch in batches:
            yield _check(first, batch, formatter)
        return
    # Objects the collector never visits keep their pages shared with the workers (copy on
    # write): each worker's private memory halves (Python's gc.freeze documentation).
    gc.freeze()
    workers = ProcessPoolExecutor(
        jobs,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_start_worker,
        initargs=(formatter.now,),
    )
    try:
        pending: deque = deque()
        for batch in batches:
            pending.append(workers.submit(_check, *batch))
            if len(pending) >= 2 * jobs:
                # A worker that dies (killed, out of memory) raises BrokenProcessPool here.
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
        workers.shutdown()  # they exit on their own, closing their connections
    finally:
        workers.shutdown(wait=False, cancel_futures=True)  # on an error: stop what waits
        gc.unfreeze()


def _batches(lines: Iterable[bytes], size: int) -> Iterator[tuple[int, list[bytes]]]:
    lines, first = iter(lines), 1
    while batch := list(islice(lines, size)):
        yield first, batch
        first += len(batch)


def _check(first: int, batch: list[bytes], formatter: CopyFormatter | None = None) -> CheckedChunk:
    good, bad = [], []
    for number, record in parse_raw_lines(batch, first):
        if isinstance(record, RecordError):
            bad.append((number, str(record)))
        else:
            good.append((number, record))
    return CheckedChunk((formatter or _worker_formatter).format(good), bad)


_worker_formatter: CopyFormatter | None = None
_inherited: list = []  # the parent's connection, kept referenced: never closed here


def _start_worker(now: datetime) -> None:
    """In a new worker: set the parent's database connection aside and open this worker's
    own, so nothing here can ever write on the parent's socket (its open transaction). The
    inherited psycopg connection stays referenced, never closed: closing it would end the
    parent's session."""
    global _worker_formatter
    _inherited.append(connection.connection)
    connection.connection = None
    connection.ensure_connection()
    Finalize(None, connection.close, exitpriority=10)
    _worker_formatter = CopyFormatter(connection.connection.cursor(), now=now)
