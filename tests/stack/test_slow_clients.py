"""Slow clients through the reference stack: 24 sockets trickling headers or bodies into
nginx do not hold up another client's request.

gunicorn's gthread workers give a connection a thread from its first byte until its request
is complete, so a few trickling sockets sent straight to gunicorn take every thread and the
service stops answering (``benchmarks/slow_clients.py`` shows it against the stack's own
app server). nginx reads requests on its event loop and passes only complete ones on.
"""

import time

from benchmarks.slow_clients import SlowClients

from .conftest import BASE_URL


def test_24_trickling_sockets_do_not_delay_another_clients_sdk_calls(openai_client, capsys):
    client = openai_client.with_options(timeout=30)  # a generous failure timeout only
    with SlowClients(BASE_URL, count=24, interval=0.2) as slow:
        time.sleep(0.5)  # let them trickle a few bytes each first
        started = time.perf_counter()
        created = client.conversations.create(metadata={"while": "slow clients"})
        fetched = client.conversations.retrieve(created.id)
        elapsed_ms = (time.perf_counter() - started) * 1000
        # All 24 were still open and unanswered while the calls went through.
        still_waiting = len(slow.sockets) - slow.answered_or_closed()
    assert fetched.metadata == {"while": "slow clients"}
    assert still_waiting == 24
    with capsys.disabled():
        print(f"\n  create + retrieve through nginx with 24 slow sockets open: {elapsed_ms:.1f} ms")
