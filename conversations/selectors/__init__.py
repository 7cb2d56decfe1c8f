"""Every read that finds, filters or pages, scoped to a partition.

One module per entity: :mod:`.conversations` (the partition, lookups, metadata filters,
pages, counts, the export's iterator), :mod:`.messages` (items and their pages, bounded by
bytes), :mod:`.api_keys` (the operator commands' lookups); :mod:`.rows` holds the hot
one-row reads as SQL built once. Reads import only the models and the domain rules, never the
write layer. Everything public is re-exported here, so callers write
``from conversations.selectors import Partition`` or ``selectors.conversation_get(...)``.
"""

from conversations.selectors.api_keys import api_key_find, api_key_list
from conversations.selectors.conversations import (
    EXACT_COUNT_LIMIT,
    FIRST_WINDOW_ROWS,
    WINDOW_PAGE_ROWS,
    WINDOW_ROWS,
    Partition,
    conversation_activity_page,
    conversation_count,
    conversation_cursor_page,
    conversation_export_iterator,
    conversation_filtered_page,
    conversation_get,
    conversation_get_any,
    conversation_idle_queryset,
    conversation_metadata_filter,
    conversation_queryset,
    metadata_contains_q,
)
from conversations.selectors.messages import (
    message_cursor_page,
    message_get,
    message_number_page,
    message_recent,
    message_time_page,
    partition_item,
)

__all__ = [
    "EXACT_COUNT_LIMIT",
    "FIRST_WINDOW_ROWS",
    "WINDOW_PAGE_ROWS",
    "WINDOW_ROWS",
    "Partition",
    "api_key_find",
    "api_key_list",
    "conversation_activity_page",
    "conversation_count",
    "conversation_cursor_page",
    "conversation_export_iterator",
    "conversation_filtered_page",
    "conversation_get",
    "conversation_get_any",
    "conversation_idle_queryset",
    "conversation_metadata_filter",
    "conversation_queryset",
    "message_cursor_page",
    "metadata_contains_q",
    "message_get",
    "message_number_page",
    "message_recent",
    "message_time_page",
    "partition_item",
]
