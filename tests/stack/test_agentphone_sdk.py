"""The ``agentphone`` SDK through nginx → two app servers → PgBouncer: the suite's API-only
test (imported from ``tests/formats/test_agentphone_sdk.py``; see ``test_openai_sdk.py``)
and the SDK's list, update and delete on conversations created through the API."""

import agentphone
import pytest

from tests.formats.test_agentphone_sdk import (  # noqa: F401
    test_openai_conversation_is_read_and_replaced_here_then_read_by_openai,
)

from .conftest import BASE_URL


@pytest.fixture
def client(api_key):
    with agentphone.AgentPhone(api_key=api_key, base_url=f"{BASE_URL}/agentphone") as c:
        yield c
