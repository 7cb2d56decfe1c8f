"""``python manage.py deliver_webhooks [--once] [--batch N] [--concurrency C] [--poll-interval S]
[--metrics-port P [--metrics-addr A]]``.

One process keeps one keep-alive :class:`~conversations.webhooks.transport.Sender` for its
whole life and sends each claimed batch ``--concurrency`` attempts at a time. With
``--metrics-port`` it serves its own Prometheus ``/metrics`` (``prometheus_client``'s
``start_http_server``; delivery outcomes, process metrics) on ``--metrics-addr`` (default
127.0.0.1: unauthenticated, keep it off the internet); port 0 picks a free port, printed.
"""

import signal
import threading
import time
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from prometheus_client import start_http_server

from conversations.ops.metrics import start_known_labels
from conversations.webhooks.delivery import (
    default_concurrency,
    deliver_batches,
    request_timeout,
    worker_name,
)
from conversations.webhooks.transport import Sender


class Command(BaseCommand):
    help = "Send pending webhook events, retrying failures; safe to run as several processes."

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="Send everything due now, then exit."
        )
        parser.add_argument("--batch", type=int, default=100, help="Events claimed at a time.")
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help="Attempts sent at once (default: CONVSTORE_WEBHOOK_CONCURRENCY, 8).",
        )
        parser.add_argument(
            "--poll-interval", type=float, default=2.0, help="Seconds to sleep when idle."
        )
        parser.add_argument(
            "--lease",
            type=float,
            default=None,
            help="Seconds a claimed batch stays reserved "
            "(default: 2 × ceil(batch / concurrency) × timeout + 30).",
        )

        parser.add_argument(
            "--metrics-port",
            type=int,
            default=None,
            help="Serve this worker's Prometheus /metrics on this port (0: a free one).",
        )
        parser.add_argument(
            "--metrics-addr", default="127.0.0.1", help="Address of /metrics (127.0.0.1)."
        )

    def handle(self, *args, once, batch, concurrency, poll_interval, lease, **options):
        if batch < 1 or (concurrency is not None and concurrency < 1):
            raise CommandError("--batch and --concurrency must be at least 1.")
        if poll_interval < 0 or (lease is not None and lease <= 0):
            raise CommandError("--poll-interval must be ≥ 0 and --lease > 0.")
        start_known_labels()
        metrics_server = None
        if options["metrics_port"] is not None:
            metrics_server, _ = start_http_server(options["metrics_port"], options["metrics_addr"])
            host, port = metrics_server.server_address[:2]
            self.stdout.write(f"metrics on http://{host}:{port}/metrics")
            self.stdout.flush()
        self.stopping = False
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, self.stop)
        try:
            with Sender(
                timeout=request_timeout(), concurrency=concurrency or default_concurrency()
            ) as sender:
                totals = self.deliver_loop(
                    once=once, batch=batch, poll_interval=poll_interval, lease=lease, sender=sender
                )
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            if metrics_server is not None:
                metrics_server.shutdown()
                metrics_server.server_close()
        self.stdout.write(
            f"done: {totals['delivered']} delivered, {totals['retrying']} to retry, "
            f"{totals['failed']} failed"
        )

    def deliver_loop(self, *, once, batch, poll_interval, lease, sender) -> dict[str, int]:
        """Deliver batches until stopped (or, with ``once``, until nothing is due)."""
        lease_delta = timedelta(seconds=lease) if lease else None
        totals = {"delivered": 0, "retrying": 0, "failed": 0}
        reports = deliver_batches(
            batch=batch,
            worker=worker_name(),
            sender=sender,
            lease=lease_delta,
            stopping=lambda: self.stopping,
        )
        for report in reports:
            for name in totals:
                totals[name] += len(getattr(report, name))
            if report.claimed:
                self.stdout.write(
                    f"{len(report.delivered)} delivered, {len(report.retrying)} to retry, "
                    f"{len(report.failed)} failed"
                )
                self.stdout.flush()
                continue
            if once:
                self.stopping = True
            else:
                time.sleep(poll_interval)
        return totals

    def stop(self, signum, frame):
        """Finish the current batch, then exit (SIGTERM/SIGINT)."""
        self.stopping = True
