"""Fixtures for tests that run through a deployed stack instead of pytest-django's live server.

``deploy/stack test`` (CI's third step) starts the reference deployment — nginx, two
gunicorn app servers, PgBouncer in transaction mode, Redis, a streaming replica — and runs
this package with the stack's addresses in the environment (``deploy/stack env``):

- ``CONVSTORE_TEST_BASE_URL``: nginx, what every client fixture here talks to.
- ``CONVSTORE_TEST_APP_URLS``: the app servers themselves (comma-separated), for races that
  must land on different instances.
- ``CONVSTORE_TEST_DATABASE_URL``: the stack's database (through PgBouncer), where
  :func:`api_key` creates keys with ``manage.py create_api_key``, as an operator would.

Without ``CONVSTORE_TEST_BASE_URL`` (``make test``) nothing here is collected. The fixtures
have the names of the root ``tests/conftest.py`` ones (``openai_client``, ``http``, …), so an
SDK test module imported here runs unchanged against the stack.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import openai
import pytest
import telnyx

from tests.clients import azure_client

ROOT = Path(__file__).resolve().parents[2]
BASE_URL = os.environ.get("CONVSTORE_TEST_BASE_URL", "").rstrip("/")
APP_URLS = [u.rstrip("/") for u in os.environ.get("CONVSTORE_TEST_APP_URLS", "").split(",") if u]
DATABASE_URL = os.environ.get("CONVSTORE_TEST_DATABASE_URL", "")

if not BASE_URL:
    collect_ignore_glob = ["test_*.py"]


# What ``create_api_key`` does for one project, for a batch: one Django start-up (a second or
# more of CPU on a busy machine) instead of one per test.
_MAKE_KEYS = (
    "import os\n"
    "from conversations.services import api_key_create, project_get_or_create\n"
    "for name in os.environ['STACK_PROJECTS'].split(','):\n"
    "    print('key', name, api_key_create(project=project_get_or_create(name=name))[1])"
)


def _manage(*args: str, **env: str) -> str:
    """``manage.py *args`` with production settings on the stack's database (through
    PgBouncer); its standard output."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
        "DJANGO_SETTINGS_MODULE": "convstore.settings",
        "DATABASE_URL": DATABASE_URL,
        "DB_PREPARED_STATEMENTS": "0",  # PgBouncer in transaction mode
        **env,
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def create_api_key(project: str) -> str:
    """A new raw API key of ``project`` (created if new) in the stack's database, made by
    ``manage.py create_api_key`` as an operator would (it prints the key on its last line)."""
    return _manage("create_api_key", "--project", project).strip().splitlines()[-1]


class KeyPool:
    """Raw API keys of fresh projects (``stack-<hex>``), made in batches of :attr:`BATCH`."""

    BATCH = 40

    def __init__(self):
        self.keys: list[tuple[str, str]] = []

    def take(self) -> tuple[str, str]:
        """``(project name, raw API key)``."""
        if not self.keys:
            names = [f"stack-{uuid.uuid4().hex[:12]}" for _ in range(self.BATCH)]
            made = _manage("shell", "-c", _MAKE_KEYS, STACK_PROJECTS=",".join(names))
            # Only the script's lines: the shell may print its own (auto-imports).
            lines = [line.split() for line in made.splitlines()]
            self.keys = [(line[1], line[2]) for line in lines if line[:1] == ["key"]]
            assert len(self.keys) == self.BATCH
        return self.keys.pop()


@pytest.fixture(scope="session")
def key_pool():
    return KeyPool()


@pytest.fixture(scope="session")
def operator_key():
    """One key made by ``manage.py create_api_key`` itself (the operator's path)."""
    return create_api_key(f"stack-operator-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def project_and_key(key_pool):
    """``(name, raw API key)`` of a project of its own: lists see only this test's rows."""
    return key_pool.take()


@pytest.fixture
def api_key(project_and_key):
    """A raw API key of this test's project."""
    return project_and_key[1]


@pytest.fixture
def other_api_key(key_pool):
    """A raw API key of another project."""
    return key_pool.take()[1]


def manage(*args: str, **env: str) -> str:
    """Run a management command on the stack's database (``env`` added to its environment);
    its standard output."""
    return _manage(*args, **env)


@pytest.fixture
def live_server():
    """The stack's front door (nginx) where a test asks for pytest-django's live server."""

    class Front:
        url = BASE_URL

    return Front()


@pytest.fixture
def openai_client(api_key):
    """The official ``openai`` SDK on the stack's OpenAI format."""
    return openai.OpenAI(base_url=f"{BASE_URL}/openai/v1", api_key=api_key, max_retries=0)


@pytest.fixture
def http(api_key):
    """An ``httpx`` client on the stack, sending the project's key as a Bearer token."""
    with httpx.Client(
        base_url=BASE_URL, headers={"Authorization": f"Bearer {api_key}"}, timeout=60
    ) as client:
        yield client


@pytest.fixture
def telnyx_client(api_key):
    """The official ``telnyx`` SDK on the stack's Telnyx format (no retries)."""
    return telnyx.Telnyx(api_key=api_key, base_url=f"{BASE_URL}/telnyx/v2", max_retries=0)


@pytest.fixture
def azure_client_factory(api_key):
    """``make(isolation_key=None, key=None)``: ``openai.AzureOpenAI`` clients on the stack."""

    def make(isolation_key=None, key=None):
        return azure_client(BASE_URL, key or api_key, isolation_key)

    return make


@pytest.fixture
def app_urls() -> list[str]:
    """The app servers behind nginx (at least two: the races need two instances)."""
    assert len(APP_URLS) >= 2, "CONVSTORE_TEST_APP_URLS must name two app servers"
    return APP_URLS
