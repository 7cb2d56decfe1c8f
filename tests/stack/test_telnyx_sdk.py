"""The ``telnyx`` SDK's tests, unchanged, through nginx → two app servers → PgBouncer
(imported from ``tests/formats/test_telnyx_sdk.py``; see ``test_openai_sdk.py``)."""

import pytest
import telnyx

from tests.formats.test_telnyx_sdk import (  # noqa: F401
    test_add_message_and_auto_paginate_messages,
    test_add_message_with_tool_calls_round_trips,
    test_create_returns_bare_conversation_with_dashed_id,
    test_delete_then_retrieve_is_not_found,
    test_list_bad_operator_raises_unprocessable,
    test_list_with_sdk_metadata_filters_custom_key_order_and_limit,
    test_retrieve_unwraps_data,
    test_update_accepts_ai_disabled_as_bool_and_stores_string,
    test_update_merges_and_null_removes_a_key,
)

from .conftest import BASE_URL


@pytest.fixture
def client(api_key):
    return telnyx.Telnyx(api_key=api_key, base_url=f"{BASE_URL}/telnyx/v2", max_retries=0)
