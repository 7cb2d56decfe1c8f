"""A one-line, human-readable summary of a stored item, for people reading a thread (the
admin's chat view). Messages read as their text; OpenAI's other items as what they did:
``get_weather({"city":"Paris"}) · call_1``, ``→ 18C``, a reasoning item's summary, …"""

from __future__ import annotations

import json

from conversations.models import Message

#: Characters of a summary; a longer one ends with "…".
MAX_SUMMARY = 500


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"


def _compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def item_summary(message: Message) -> str:
    """The line to show for ``message``: a message's whole text, or at most
    :data:`MAX_SUMMARY` characters for another item."""
    if message.item_type == "message":
        return message.content
    item = message.payload if isinstance(message.payload, dict) else {}
    call_id = item.get("call_id")
    suffix = f" · {call_id}" if isinstance(call_id, str) and call_id else ""
    if message.item_type in ("function_call", "custom_tool_call", "mcp_call"):
        arguments = item.get("arguments", item.get("input", ""))
        if not isinstance(arguments, str):
            arguments = _compact(arguments)
        return _clip(f"{item.get('name', '?')}({arguments}){suffix}")
    if message.item_type.endswith("_output"):
        output = message.content or _compact(item.get("output", item.get("result", "")))
        return _clip(f"→ {output}{suffix}")
    if message.item_type == "reasoning":
        texts = [
            part.get("text", "")
            for part in item.get("summary") or []
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        if texts:
            return _clip(" ".join(texts))
        return "(encrypted reasoning)" if item.get("encrypted_content") else "(no summary)"
    shown = {k: v for k, v in item.items() if k not in ("type", "encrypted_content", "result")}
    return _clip(_compact(shown))
