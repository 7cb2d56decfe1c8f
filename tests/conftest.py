"""Shared fixtures: a project with an API key, and official SDK clients on a live server.

The suite runs against whatever ``DATABASE_URL`` names (PostgreSQL in CI, SQLite by default).
"""

import httpx
import openai
import pytest
import telnyx

from conversations.domain import clock
from conversations.services import (
    Actor,
    MessageInput,
    api_key_create,
    conversation_create,
    project_get_or_create,
)
from tests.clients import azure_client


@pytest.fixture
def project(db):
    return project_get_or_create(name="acme")


@pytest.fixture
def api_key(project):
    """A raw API key of the ``acme`` project."""
    _, raw_key = api_key_create(project=project, name="tests")
    return raw_key


@pytest.fixture
def other_api_key(db):
    """A raw API key of another project (``globex``)."""
    _, raw_key = api_key_create(project=project_get_or_create(name="globex"))
    return raw_key


@pytest.fixture
def openai_client(live_server, api_key):
    """The official ``openai`` SDK pointed at the live server's OpenAI format."""
    return openai.OpenAI(base_url=f"{live_server.url}/openai/v1", api_key=api_key, max_retries=0)


@pytest.fixture
def http(live_server, api_key):
    """An ``httpx`` client on the live server, sending the ``acme`` key as a Bearer token."""
    with httpx.Client(
        base_url=live_server.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60
    ) as client:
        yield client


@pytest.fixture
def telnyx_client(live_server, api_key):
    """The official ``telnyx`` SDK pointed at the live server's Telnyx format (no retries)."""
    return telnyx.Telnyx(api_key=api_key, base_url=f"{live_server.url}/telnyx/v2", max_retries=0)


@pytest.fixture
def azure_client_factory(live_server, api_key):
    """Build ``openai.AzureOpenAI`` clients (``api-key`` header) with an optional isolation key."""

    def make(isolation_key=None, key=None):
        return azure_client(live_server.url, key or api_key, isolation_key)

    return make


@pytest.fixture
def make_conversation(project):
    """``make(metadata=None, messages=((role, text), …), **context)``: a conversation in
    ``acme`` created through the service, as a command would."""

    def make(metadata=None, messages=(), **context):
        return conversation_create(
            project=project,
            actor=Actor.for_command("tests"),
            metadata=metadata or {},
            messages=[MessageInput(role=r, content=c) for r, c in messages],
            **context,
        )

    return make


def pytest_terminal_summary(terminalreporter):
    """One line before pytest's list of skip reasons: how many tests need PostgreSQL or
    Redis, and the command that runs them (reasons from :mod:`tests.skips`)."""
    reasons = [
        str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
        for report in terminalreporter.stats.get("skipped", [])
    ]
    postgresql = sum("needs PostgreSQL" in reason for reason in reasons)
    redis = sum("needs Redis" in reason for reason in reasons)
    if postgresql or redis:
        terminalreporter.write_line(
            f"{postgresql} skipped tests need PostgreSQL and {redis} need Redis: "
            "`make test-all` runs the whole suite on PostgreSQL with Redis."
        )


@pytest.fixture
def real_time():
    """The store's clock (:mod:`conversations.domain.clock`) at real time before and after
    the test, which may move it with ``clock.advance``."""
    clock.reset()
    yield
    clock.reset()
