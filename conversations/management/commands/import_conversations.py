"""``python manage.py import_conversations FILE``: upsert conversations from JSONL by id."""

from concurrent.futures.process import BrokenProcessPool
from itertools import islice

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from conversations.services import Actor
from conversations.transfer.importing import conversations_import
from conversations.transfer.importing_pg import REBUILD_INDEXES_FROM, PostgresImport
from conversations.transfer.importing_pipeline import JOBS, checked_chunks
from conversations.transfer.jsonl import RecordError, parse_raw_lines

MAX_LISTED = 20
MAX_KEPT = 10_000  # bad lines remembered for the report (all are counted)


class Command(BaseCommand):
    help = (
        "Import conversations from a JSONL file (export_conversations' schema), upserting by "
        "id. Every line is checked first; any bad line means nothing is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="JSONL file, one conversation per line.")
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=5000,
            help=(
                "Lines per batch: one COPY on PostgreSQL (checked by one worker), "
                "conversations per upsert on SQLite (5000)."
            ),
        )
        parser.add_argument(
            "--check", action="store_true", help="Only check the file; write nothing."
        )
        parser.add_argument(
            "--rebuild-indexes-from",
            type=int,
            default=REBUILD_INDEXES_FROM,
            metavar="N",
            help=(
                "PostgreSQL: with at least N conversations into an empty store, lock the "
                "conversation table for the write step and rebuild its secondary indexes after "
                f"the insert, not row by row ({REBUILD_INDEXES_FROM}; 0: never)."
            ),
        )
        parser.add_argument(
            "--jobs",
            type=int,
            default=JOBS,
            metavar="N",
            help=(
                "PostgreSQL: worker processes that check the lines and format their COPY rows, "
                f"each with its own database connection ({JOBS}; 0: in this process)."
            ),
        )

    def handle(self, *args, file, chunk_size, check, rebuild_indexes_from, jobs, **options):
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1.")
        if jobs < 0:
            raise CommandError("--jobs must be 0 or more.")
        if rebuild_indexes_from < 0:
            raise CommandError("--rebuild-indexes-from must be 0 or more.")
        if connection.vendor == "postgresql":
            self._import_postgresql(file, chunk_size, check, rebuild_indexes_from, jobs)
            return
        total = self._check(file)
        if check:
            self.stdout.write(f"{file}: {total} conversations, all lines valid. Nothing written.")
            return
        actor = Actor.for_command("import_conversations")
        created = updated = unchanged = 0
        records = (record for _, record in self._records(file))
        try:
            # One transaction for the whole file: a database error leaves nothing behind.
            with transaction.atomic():
                while chunk := list(islice(records, chunk_size)):
                    c, u, n = conversations_import(records=chunk, actor=actor)
                    created += c
                    updated += u
                    unchanged += n
        except DatabaseError as exc:
            raise CommandError(f"Import failed, nothing was written: {exc}") from None
        self.stdout.write(
            f"Imported {created + updated + unchanged} conversations: {created} created, "
            f"{updated} updated, {unchanged} unchanged."
        )

    def _import_postgresql(
        self, file, chunk_size: int, check: bool, rebuild_from: int, jobs: int
    ) -> None:
        """Pass 1 checks every line (in ``jobs`` worker processes) and COPYs the good ones into
        temporary tables; pass 2, only if no line is bad, upserts them set-based. One
        transaction: all or nothing."""
        bad: list[tuple[int, str]] = []
        bad_count = 0
        try:
            with self._open(file) as handle, transaction.atomic():
                staging = PostgresImport(
                    actor=Actor.for_command("import_conversations"),
                    now=timezone.now(),
                    rebuild_indexes_from=rebuild_from,
                )
                for checked in checked_chunks(
                    handle, chunk_size=chunk_size, jobs=jobs, formatter=staging.formatter
                ):
                    bad_count += len(checked.bad)
                    bad += checked.bad[: MAX_KEPT - len(bad)]
                    staging.stage_formatted(checked.formatted)
                duplicates = staging.duplicate_lines(MAX_KEPT)
                bad_count += len(duplicates)
                bad += [
                    (n, f"id {pk} already appears on line {first}.") for n, first, pk in duplicates
                ]
                if bad_count:
                    self._report(file, sorted(bad), bad_count)
                if check:
                    transaction.set_rollback(True)
                    self.stdout.write(
                        f"{file}: {staging.total} conversations, all lines valid. Nothing written."
                    )
                    return
                created, updated, unchanged = staging.apply()
        except DatabaseError as exc:
            raise CommandError(f"Import failed, nothing was written: {exc}") from None
        except BrokenProcessPool:
            raise CommandError(
                "Import failed, nothing was written: a worker process checking the lines "
                "could not start or died (no database connection left? out of memory? try "
                "fewer --jobs or a smaller --chunk-size)."
            ) from None
        self.stdout.write(
            f"Imported {created + updated + unchanged} conversations: {created} created, "
            f"{updated} updated, {unchanged} unchanged."
        )

    def _report(self, file, bad: list[tuple[int, str]], count: int) -> None:
        """Print the bad lines on stderr and raise CommandError naming them."""
        for number, message in bad[:MAX_LISTED]:
            self.stderr.write(f"{file}:{number}: {message}")
        if count > MAX_LISTED:
            self.stderr.write(f"… and {count - MAX_LISTED} more bad lines.")
        numbers = ", ".join(str(n) for n, _ in bad[:1000])
        more = " …" if count > 1000 else ""
        raise CommandError(
            f"{count} bad line(s) in {file}, nothing was written. Line(s): {numbers}{more}"
        )

    def _records(self, file):
        """Yield ``(line number, parsed record or RecordError)`` for each non-blank line."""
        with self._open(file) as handle:
            yield from parse_raw_lines(handle)

    def _open(self, file):
        try:
            return open(file, "rb")  # noqa: SIM115 - the caller closes it
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from None

    def _check(self, file) -> int:
        """Check every line; raise CommandError naming each bad line. Returns the line count."""
        bad: list[tuple[int, str]] = []
        seen: dict[bytes, int] = {}
        total = 0
        for number, record in self._records(file):
            total += 1
            if isinstance(record, RecordError):
                bad.append((number, str(record)))
                continue
            first = seen.setdefault(record.id.bytes, number)
            if first != number:
                bad.append((number, f"id {record.id} already appears on line {first}."))
        if bad:
            self._report(file, bad, len(bad))
        return total
