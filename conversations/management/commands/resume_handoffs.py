"""``python manage.py resume_handoffs [--loop SECONDS]``: write down ended timed handoffs.

Readers already see the AI back on when a handoff's ``ai_disabled_until`` passes; this
writes the resume down (the switch on, an audit row by the system actor, a
``conversation.ai_resumed`` webhook event) for conversations nobody has touched since, at
most once each (:mod:`conversations.services.handoff`). Run it from cron every minute, or
keep it running with ``--loop``. Safe to run in several places at once.
"""

import time

from django.core.management.base import BaseCommand

from conversations import services
from conversations.services.handoff import RESUME_BATCH


class Command(BaseCommand):
    help = "Write down timed AI handoffs that have ended (audit row + conversation.ai_resumed)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop",
            type=float,
            metavar="SECONDS",
            help="Keep running, checking every SECONDS (default: one pass, then exit).",
        )

    def handle(self, *args, loop=None, **options):
        while True:
            total = 0
            while True:  # batches until nothing is due
                written = services.handoffs_resume_due()
                total += len(written)
                if len(written) < RESUME_BATCH:
                    break
            self.stdout.write(f"Resumed {total} conversation(s).")
            if loop is None:
                return
            time.sleep(loop)
