"""The benchmark's framework ceiling (``benchmarks/django_bare_app.py``) answers the
benchmark's three paths with convstore's own settings and middleware. It replaces the
URLconf of the process that imports it, so it is exercised in a child process."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import io, json, sys
from benchmarks.django_bare_app import application

def call(method, path, body=b""):
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json", "wsgi.errors": sys.stderr,
    }
    status = []
    chunks = application(environ, lambda s, h, exc_info=None: status.append(s))
    payload = b"".join(chunks)
    chunks.close()
    return status[0], json.loads(payload)

out = [
    call("POST", "/openai/v1/conversations/conv_1", b'{"metadata": {"k": "v"}}'),
    call("PUT", "/telnyx/v2/ai/conversations/c2", b'{"metadata": {"a": "b"}}'),
    call("PATCH", "/agentphone/v1/conversations/c3", b'{"metadata": {}}'),
    call("GET", "/openai/v1/conversations/conv_4"),
]
print(json.dumps(out))
"""


def test_bare_django_app_answers_the_benchmark_paths():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "convstore.settings",
        "DEBUG": "0",
        "SECRET_KEY": "bare-app-test-" + "x" * 50,
        "CONVSTORE_HTTPS": "0",
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("PYTEST_VERSION", None)
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert [status for status, _ in answers] == ["200 OK"] * 4
    assert answers[0][1] == {
        "id": "conv_1", "object": "conversation", "created_at": 0, "metadata": {"k": "v"}
    }  # fmt: skip
    assert answers[1][1]["metadata"] == {"a": "b"}
    assert answers[3][1]["id"] == "conv_4" and answers[3][1]["metadata"] == {}
