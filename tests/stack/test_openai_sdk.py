"""The ``openai`` SDK's tests (OpenAI and Azure formats), unchanged, through nginx → two app
servers → PgBouncer.

Each test is imported from the suite's own modules, where it runs on pytest-django's live
server; collected here it gets this package's fixtures (``tests/stack/conftest.py``): clients
on the stack's nginx and an API key made in the stack's database. Only tests that check the
server through its API alone can run here (the others also read the test database's rows).
"""

from tests.conditional.test_if_match import (  # noqa: F401
    test_azure_client_gets_412_for_a_stale_if_match,
    test_if_match_on_an_unknown_conversation_is_a_404_in_every_format,
)
from tests.formats.test_azure import (  # noqa: F401
    test_azure_wrong_key_raises_authentication_error,
    test_openai_format_honours_the_isolation_header_too,
)
from tests.formats.test_openai import (  # noqa: F401
    test_a_race_past_sixteen_stores_exactly_sixteen,
    test_create_with_items_and_metadata_then_retrieve,
    test_create_with_no_arguments_has_empty_metadata,
    test_delete_answers_deleted_resource_and_then_not_found,
    test_items_list_pages_with_cursor_in_both_orders,
    test_merged_result_over_sixteen_pairs_is_refused,
    test_sixteen_sdk_clients_merging_at_once_keep_every_key,
)
from tests.formats.test_openai_sdk_smoke import (  # noqa: F401
    test_sdk_creates_and_retrieves_conversation,
)
from tests.test_idempotency import (  # noqa: F401
    test_a_structured_field_string_names_the_same_key,
    test_telnyx_different_body_is_a_fastapi_422,
)
