"""Webhook safety: the address rule (SSRF) at save and at connect time, bounded answers and
attempt time, and answers' bodies never stored.

Only loopback is ever targeted: the refusals below happen before any connection, and the
"resolves to a private address" case uses ``localhost``.
"""

import socket
import subprocess
import sys
import threading
import time
from http import HTTPStatus

import pytest
from django.core.management import CommandError, call_command

from conversations import services
from conversations.models import WebhookAttempt, WebhookEndpoint, WebhookEvent
from conversations.services import Actor, MessageInput
from conversations.webhooks.delivery import deliver_due
from conversations.webhooks.endpoints import webhook_endpoint_create
from conversations.webhooks.transport import MAX_ANSWER_BYTES

from .conftest import SECRET, worker_command

ACTOR = Actor.for_command("tests")

REFUSED_URLS = [
    "http://127.0.0.1/hook",
    "http://127.1/hook",
    "http://2130706433/hook",  # 127.0.0.1 as one decimal number
    "http://localhost:8080/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
    "http://[::ffff:169.254.169.254]/hook",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://10.0.0.1/hook",
    "http://172.16.5.4/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",  # shared address space
    "http://0.0.0.0/hook",
    "http://[::]/hook",
    "http://224.0.0.1/hook",  # multicast
    "http://[ff02::1]/hook",
    "http://[fe80::1]/hook",
    "http://[fc00::1]/hook",
    "http://240.0.0.1/hook",  # reserved
    "http://[2002:7f00:1::]/hook",  # 6to4 around 127.0.0.1
    "http://[64:ff9b::a00:1]/hook",  # NAT64 around 10.0.0.1
]
BAD_SCHEMES = [
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "gopher://example.com/x",
    "ws://example.com/hook",
]


@pytest.fixture
def address_rule(settings):
    """The production default: the address rule on."""
    settings.CONVSTORE_WEBHOOK_ALLOW_PRIVATE = False


def add_message(project, text="hi"):
    conversation = services.conversation_create(project=project, actor=ACTOR, channel="sms")
    services.messages_create(
        conversation=conversation, messages=[MessageInput(role="user", content=text)]
    )
    return conversation


@pytest.mark.parametrize("url", REFUSED_URLS + BAD_SCHEMES)
def test_create_webhook_refuses_private_addresses_and_other_schemes(project, address_rule, url):
    with pytest.raises(CommandError) as refused:
        call_command("create_webhook", "--project", "acme", "--url", url)
    assert "public address" in str(refused.value) or "http or https" in str(refused.value)
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8001/hook", "http://10.1.2.3/", "http://[::1]/"])
def test_private_address_refusal_tells_how_development_lifts_it(project, address_rule, url):
    with pytest.raises(CommandError) as refused:
        call_command("create_webhook", "--project", "acme", "--url", url)
    assert "CONVSTORE_WEBHOOK_ALLOW_PRIVATE=1" in str(refused.value)
    assert "development only" in str(refused.value)


def test_unresolvable_host_refusal_does_not_suggest_allow_private(project, address_rule):
    with pytest.raises(CommandError) as refused:
        call_command("create_webhook", "--project", "acme", "--url", "http://nowhere.invalid/")
    assert "does not resolve" in str(refused.value)
    assert "ALLOW_PRIVATE" not in str(refused.value)


@pytest.mark.parametrize("url", BAD_SCHEMES)
def test_allow_private_never_lifts_the_scheme_rule(project, url):
    with pytest.raises(CommandError, match="http or https"):
        call_command("create_webhook", "--project", "acme", "--url", url)


def test_create_webhook_refuses_credentials_in_the_url(project, address_rule):
    with pytest.raises(CommandError, match="user name or password"):
        call_command("create_webhook", "--project", "acme", "--url", "http://u:p@93.184.215.14/")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/",
        "http://10.1.2.3/",
        "http://0.0.0.0/",
        "http://[::ffff:10.0.0.1]/",
        "ftp://example.com/",
    ],
)
def test_admin_add_form_refuses_private_addresses(admin_client, project, address_rule, url):
    response = admin_client.post(
        "/admin/conversations/webhookendpoint/add/",
        {
            "project": project.pk,
            "url": url,
            "secret": "",
            "events": ["agent.message"],
            "context_limit": 3,
            "is_active": "on",
            "description": "",
        },
    )
    assert response.status_code == HTTPStatus.OK  # the form again, with the error
    form = response.context["adminform"].form
    assert "url" in form.errors, form.errors
    assert not WebhookEndpoint.objects.exists()


def test_public_literal_address_is_accepted(project, address_rule):
    """A public IP literal passes the rule without any lookup or connection."""
    endpoint = webhook_endpoint_create(project=project, url="https://93.184.215.14/hook")
    assert endpoint.pk


def test_connect_time_check_refuses_a_name_that_now_resolves_to_loopback(
    project, receiver, settings
):
    """Saved while the rule was off (as if DNS had answered a public address then); at
    delivery ``localhost`` resolves to loopback and nothing reaches the receiver."""
    port = receiver.server.server_port
    webhook_endpoint_create(project=project, url=f"http://localhost:{port}/hook", secret=SECRET)
    webhook_endpoint_create(
        project=project, url=f"http://[::ffff:127.0.0.1]:{port}/h", secret=SECRET
    )
    add_message(project)
    settings.CONVSTORE_WEBHOOK_ALLOW_PRIVATE = False
    report = deliver_due()
    assert len(report.retrying) == 2 and not report.delivered
    assert receiver.requests == []
    for attempt in WebhookAttempt.objects.all():
        assert attempt.status_code is None
        assert attempt.error.startswith("refused: ") and "loopback" in attempt.error
    assert all(e.last_error.startswith("refused: ") for e in WebhookEvent.objects.all())

    settings.CONVSTORE_WEBHOOK_ALLOW_PRIVATE = True  # development: the same events now go
    WebhookEvent.objects.update(next_attempt_at=WebhookEvent.objects.first().created_at)
    assert len(deliver_due().delivered) == 2 and len(receiver.requests) == 2


class RawServer:
    """A TCP server on 127.0.0.1 that reads one HTTP request per connection and lets
    ``respond(conn)`` write whatever it likes; counts the bytes it managed to send."""

    def __init__(self, respond):
        self.respond = respond
        self.sent = 0
        self.requests = 0
        self.trickled = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            while len(body) < length:
                body += conn.recv(65536)
            self.requests += 1
            try:
                self.respond(self, conn)
            except OSError:
                pass  # the worker hung up: what we want

    def send(self, conn, data: bytes):
        conn.sendall(data)
        self.sent += len(data)

    def close(self):
        self.sock.close()


def huge_answer(server, conn):
    """200 with a 256 MiB body, written as fast as the worker takes it."""
    size = 256 * 1024 * 1024
    server.send(conn, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
    chunk = b"x" * 65536
    for _ in range(size // len(chunk)):
        server.send(conn, chunk)


def trickle(server, conn):
    """Headers at once, then one body byte a second for a minute."""
    server.send(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n")
    for _ in range(60):
        server.send(conn, b"x")
        server.trickled += 1
        time.sleep(1)


def trickle_headers(server, conn):
    """The status line and headers one byte a second."""
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
        server.send(conn, bytes([byte]))
        server.trickled += 1
        time.sleep(1)


def secret_error_page(server, conn):
    body = b"<html>internal admin panel: password=hunter2</html>"
    server.send(
        conn,
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body),
    )


# Runs a command and prints its peak RSS (KiB) and exit code on the last line. The worker is
# started from this small process, not from pytest: a forked child's peak RSS counts the
# parent's pages from before its exec, and pytest is big by the end of the suite.
PEAK_RSS = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[1:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))\n"
)


@pytest.mark.django_db(transaction=True)
def test_a_256_mib_answer_is_not_read(project):
    """The worker reads a few KiB and drops the connection: its peak memory stays near its
    idle size and the receiver cannot push more than the sockets' buffers."""
    server = RawServer(huge_answer)
    try:
        webhook_endpoint_create(project=project, url=server.url, secret=SECRET)
        add_message(project)
        argv, env = worker_command("--once")
        run = subprocess.run(
            [sys.executable, "-c", PEAK_RSS, *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        server.close()
    *out, last = run.stdout.strip().splitlines()
    peak_kib, code = map(int, last.split())
    assert code == 0, run.stderr
    assert "1 delivered" in "\n".join(out)  # a 2xx is a success, however long its body
    peak_mib = peak_kib / 1024  # Linux: KiB
    assert peak_mib < 150, f"worker peaked at {peak_mib:.0f} MiB"
    assert server.requests == 1
    assert server.sent < 32 * 1024 * 1024, f"the receiver pushed {server.sent} bytes"
    assert MAX_ANSWER_BYTES <= 8192


@pytest.mark.parametrize("respond", [trickle, trickle_headers], ids=["body", "headers"])
def test_a_trickling_receiver_gets_one_timeout_per_attempt(project, settings, respond):
    settings.CONVSTORE_WEBHOOK_TIMEOUT = 2
    server = RawServer(respond)
    try:
        webhook_endpoint_create(project=project, url=server.url, secret=SECRET)
        add_message(project)
        report = deliver_due()
        trickled = server.trickled  # bytes the receiver got out before the worker gave up
    finally:
        server.close()
    assert report.retrying == report.claimed and len(report.claimed) == 1
    # A byte a second for a minute: a per-read timeout would take them all; the attempt's
    # 2 s deadline stops it after a few (the receiver notices the hang-up a send later).
    assert 1 <= trickled <= 5, f"the receiver trickled {trickled} bytes into one attempt"
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "Timeout" in attempt.error
    assert server.requests == 1


def test_answer_bodies_are_never_stored(admin_client, project):
    server = RawServer(secret_error_page)
    try:
        webhook_endpoint_create(project=project, url=server.url, secret=SECRET)
        add_message(project)
        deliver_due()
    finally:
        server.close()
    event = WebhookEvent.objects.get()
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.error, event.last_error) == (500, "HTTP 500", "HTTP 500")
    page = admin_client.get(f"/admin/conversations/webhookevent/{event.pk}/change/")
    assert page.status_code == 200 and b"hunter2" not in page.content


def endless_headers(server, conn):
    """A status line, then header lines without end."""
    server.send(conn, b"HTTP/1.1 200 OK\r\n")
    for n in range(100_000):
        server.send(conn, b"X-Filler-%d: %s\r\n" % (n, b"a" * 200))


def test_endless_headers_are_cut_off(project):
    server = RawServer(endless_headers)
    try:
        webhook_endpoint_create(project=project, url=server.url, secret=SECRET)
        add_message(project)
        report = deliver_due()
    finally:
        server.close()
    assert report.retrying == report.claimed
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "aaaa" not in attempt.error
    assert len(attempt.error) <= 200


def test_https_keeps_the_name_for_sni_and_certificate_checks(project, tmp_path):
    """Connected to the checked address, TLS still speaks the URL's name: the receiver sees
    SNI ``localhost``, and its self-signed certificate is refused (verification is on)."""
    import shutil
    import ssl

    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    names = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve():
        try:
            conn, _ = listener.accept()
            with context.wrap_socket(conn, server_side=True):
                pass
        except (OSError, ssl.SSLError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        webhook_endpoint_create(project=project, url=f"https://localhost:{port}/h", secret=SECRET)
        add_message(project)
        deliver_due()
        thread.join(10)
    finally:
        listener.close()
    attempt = WebhookAttempt.objects.get()
    assert names == ["localhost"]
    assert attempt.status_code is None and "CERTIFICATE_VERIFY_FAILED" in attempt.error
