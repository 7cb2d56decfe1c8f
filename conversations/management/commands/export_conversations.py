"""``python manage.py export_conversations [--output FILE]``: every conversation as JSONL."""

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from conversations.database.replica import replica_reads
from conversations.management.projects import project_by_name
from conversations.models import Conversation
from conversations.transfer.exporting import export_lines


class Command(BaseCommand):
    help = (
        "Write every conversation, with its messages, as one JSON object per line (schema in "
        "README, 'Commands'); streams with flat memory."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", default="-", help="File to write (default stdout).")
        parser.add_argument("--project", help="Only this project's conversations.")
        parser.add_argument(
            "--chunk-size", type=int, default=2000, help="Conversations read per query (2000)."
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="No progress bar, even on a terminal."
        )

    def handle(self, *args, output, project, chunk_size, no_progress, **options):
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1.")
        project_obj = None if project is None else project_by_name(project)
        to_stdout = output == "-"
        # The bar goes to stderr, and only to a terminal that is not also showing the data.
        show_bar = (
            not no_progress
            and sys.stderr.isatty()
            and not (to_stdout and getattr(self.stdout, "isatty", lambda: False)())
        )
        try:
            stream = (
                self.stdout if to_stdout else open(output, "wb")  # noqa: SIM115
            )
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror}.") from None
        try:
            # Read from the replica once it has caught up (conversations.database.replica).
            with replica_reads(api=False):
                total = None
                if show_bar:
                    queryset = Conversation.objects.all()
                    if project_obj is not None:
                        queryset = queryset.filter(project=project_obj)
                    total = queryset.count()
                count = 0
                with tqdm(total=total, disable=not show_bar, unit="conv", file=sys.stderr) as bar:
                    for chunk in export_lines(project=project_obj, chunk_size=chunk_size):
                        if to_stdout:
                            stream.write(chunk.decode(), ending="")
                        else:
                            stream.write(chunk)
                        lines = chunk.count(b"\n")
                        count += lines
                        bar.update(lines)
        finally:
            if not to_stdout:
                stream.close()
        if not to_stdout:
            self.stderr.write(f"Exported {count} conversations to {output}.", self.style.SUCCESS)
