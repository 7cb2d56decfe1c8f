"""Byte limits on what one request may make the server hold: a message's size, a response's.

Sizes are UTF-8 bytes of compact JSON (``json.dumps(..., ensure_ascii=False,
separators=(",", ":"))``), which is how DRF's renderer writes them, so escapes (``\\"``,
``\\u0001``) count as they will be sent.

- A message's **stored size** (:func:`message_size`, kept in ``Message.size_bytes``) is the
  largest of its text, its content parts and its item payload (each format renders one of
  these three as the body), plus its tool calls, metadata, media URLs, reactions and numbers.
  Writes refuse a message over ``CONVSTORE_MAX_MESSAGE_BYTES`` (default 256 KiB).
- A **response budget** (``CONVSTORE_MAX_RESPONSE_BYTES``, default 4 MiB) bounds the items of
  one answer: each message counts its stored size plus :data:`ITEM_OVERHEAD_BYTES` (ids,
  times, names and numbers the formats add). List pages take items while they fit and then
  stop, saying there is more in the format's own paging terms. The first item of a page is
  always taken, so paging always moves forward; with the defaults it always fits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings

#: What a rendered message adds to its stored size at most: ids, times, role, status, type,
#: names, direction, channel, the conversation's numbers (escaped worst case).
ITEM_OVERHEAD_BYTES = 4096


# json.dumps(value, ensure_ascii=False, separators=(",", ":")) builds this same encoder on every
# call (it reuses one only for the default options), which costs more than encoding a short
# value: the bulk import sizes every field of every message.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def json_bytes(value: Any) -> int:
    """UTF-8 bytes of ``value`` as compact JSON, as DRF renders it."""
    return len(_COMPACT.encode(value).encode("utf-8"))


def message_size(
    *,
    content: str = "",
    content_parts: Any = None,
    payload: Any = None,
    tool_calls: Any = None,
    metadata: Any = None,
    media_urls: Any = None,
    reactions: Any = None,
    from_number: str = "",
    to_number: str = "",
    **_ignored: Any,
) -> int:
    """A message's stored size in bytes (see the module); any extra keyword is ignored, so a
    row's field dict can be passed whole."""
    body = max(json_bytes(content), json_bytes(content_parts), json_bytes(payload))
    rest = (tool_calls, metadata, media_urls or [], reactions or [], from_number, to_number)
    return body + sum(json_bytes(value) for value in rest)


def max_message_bytes() -> int:
    """``CONVSTORE_MAX_MESSAGE_BYTES``: the largest stored size a write accepts."""
    return settings.CONVSTORE_MAX_MESSAGE_BYTES


def response_budget() -> int:
    """``CONVSTORE_MAX_RESPONSE_BYTES``: the bytes one answer's items may add up to."""
    return settings.CONVSTORE_MAX_RESPONSE_BYTES


def take_within_budget(sizes: Iterable[int], budget: int | None = None) -> int:
    """How many leading items, of these stored sizes, fit the response budget (at least one
    when there is any, so paging moves forward). Each item counts ``size +
    ITEM_OVERHEAD_BYTES``."""
    budget = response_budget() if budget is None else budget
    used = taken = 0
    for size in sizes:
        used += size + ITEM_OVERHEAD_BYTES
        if taken and used > budget:
            break
        taken += 1
    return taken


def rendered_within_budget(items: Iterable[Any], render, budget: int | None = None) -> Iterator:
    """Render ``items`` one by one with ``render`` while the rendered bytes fit the budget.

    Yields rendered items; stops (at least one yielded) before the one that would pass the
    budget. For rows whose size is bounded by their own rules (conversations), read lazily
    from an iterator, so memory stays at one budget. The caller tells "there is more" by
    comparing how many were yielded with how many it asked for.
    """
    budget = response_budget() if budget is None else budget
    used = 0
    for index, item in enumerate(items):
        data = render(item)
        used += json_bytes(data)
        if index and used > budget:
            return
        yield data


def json_depth_exceeds(value, limit: int) -> bool:
    """Whether ``value`` nests arrays/objects deeper than ``limit`` levels (iterative, no
    recursion, so any depth is safe to ask about)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False
