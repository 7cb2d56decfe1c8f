"""Webhook fixtures: a real HTTP receiver on 127.0.0.1 and an endpoint pointing at it; helpers
that add messages (each one an event), verify a captured delivery, and start a worker."""

import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import agentphone.webhook as ap_webhook
import pytest
from django.db import connection

from conversations import services
from conversations.services import Actor, MessageInput
from conversations.webhooks.endpoints import webhook_endpoint_create

SECRET = "whsec_test_secret"
ROOT = Path(__file__).resolve().parents[2]
ACTOR = Actor.for_command("tests")


class Receiver:
    """A webhook receiver: records every request and answers the queued statuses (then 200).

    With ``hold`` set, each request waits for ``release()`` before answering; ``arrived`` is
    set when a request came in.
    """

    def __init__(self):
        self.requests: list[tuple[dict, bytes]] = []
        self.statuses: list[int] = []
        self.hold = False
        self.arrived = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.requests.append((dict(self.headers), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.arrived.set()
                if receiver.hold:
                    receiver._released.wait(60)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the sender is gone (a killed worker)
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def release(self):
        self.hold = False
        self._released.set()

    def ids(self) -> list[str]:
        """``X-Webhook-ID`` of every request, in arrival order."""
        return [headers["X-Webhook-ID"] for headers, _ in self.requests]

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def allow_private_receivers(settings):
    """The receivers here listen on 127.0.0.1: lift the address rule (as for development).
    Tests of the rule itself turn it back on."""
    settings.CONVSTORE_WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def endpoint(project, receiver):
    return webhook_endpoint_create(project=project, url=receiver.url, secret=SECRET)


def worker_command(*args: str) -> tuple[list[str], dict]:
    """``manage.py deliver_webhooks`` argv and environment pointed at the test database."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        url = f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    else:
        url = f"sqlite:///{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "CONVSTORE_WEBHOOK_ALLOW_PRIVATE": "1"}
    return [sys.executable, str(ROOT / "manage.py"), "deliver_webhooks", *args], env


def add_messages(project, *texts, metadata=None):
    conversation = services.conversation_create(
        project=project,
        actor=ACTOR,
        metadata=metadata,
        phone_number="+15551234567",
        participant="+15559876543",
        channel="sms",
    )
    services.messages_create(
        conversation=conversation, messages=[MessageInput(role="user", content=t) for t in texts]
    )
    return conversation


def verify(headers, body):
    """The ``agentphone`` SDK's own verification and parsing of a captured delivery."""
    return ap_webhook.construct_event(
        body,
        headers["X-Webhook-Signature"],
        secret=SECRET,
        timestamp=headers["X-Webhook-Timestamp"],
    )
