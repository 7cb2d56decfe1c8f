"""The Conversations API item union on the wire: types, id prefixes, checks and ``include``.

Every type of the ``openai`` SDK's ``ConversationItem`` union (``openai/types/conversations/
conversation_item.py``) and of the Responses input items it accepts (``openai/types/responses/
response_input_item_param.py``) is stored **as sent**: the whole item (less ``id``) goes to
``Message.payload`` (a message keeps its content parts in ``content_parts`` and its other
fields in ``payload``), so no field is dropped, renamed or re-typed, and fields unknown today
are kept. The checks are the SDK's required fields and their JSON types, worded as OpenAI's 400
(``missing_required_parameter`` / ``invalid_type`` on ``items[i].<field>``).

Ids: an item sent with an ``id`` keeps it (the Agents SDK replays reasoning items by id); one
sent without gets ``<prefix>_<32 hex>`` of its type. For the types whose prefix the Responses
API checks (``Invalid 'input[N].id': … Expected an ID that begins with 'rs'``), a sent id of
another prefix is refused the same way, on ``items[i].id``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field

from conversations.domain.ids import prefixed
from conversations.domain.metadata import contains_nul, json_type_name
from conversations.formats.openai.errors import OpenAIParamError, a_type, invalid_type
from conversations.models import Message
from conversations.services import MessageInput

MESSAGE_ROLES = ("user", "assistant", "system", "developer")
TEXT_PART_TYPES = ("input_text", "output_text", "text", "summary_text", "reasoning_text")
#: Message fields with a column of their own; any other field of a message goes to payload.
MESSAGE_COLUMNS = ("type", "id", "role", "content", "status")

_S, _A, _O, _B, _N = ("string",), ("array",), ("object",), ("boolean",), ("null",)


@dataclass(frozen=True)
class ItemType:
    """One member of the item union.

    ``prefix``: the id prefix issued (``prefix_<32 hex>``); ``checked``: a sent id must begin
    with it (the types the Responses API checks); ``required``: field → accepted JSON types,
    from the SDK's input types (``id`` is never required here: the store issues one);
    ``status``: the SDK's ``ConversationItem`` model requires ``status``, so an item sent
    without one is returned with ``"completed"``.
    """

    prefix: str
    required: dict[str, tuple[str, ...]] = field(default_factory=dict)
    status: bool = False
    checked: bool = False


ITEM_TYPES: dict[str, ItemType] = {
    "message": ItemType("msg", status=True, checked=True),
    "function_call": ItemType(
        "fc", {"call_id": _S, "name": _S, "arguments": _S}, status=True, checked=True
    ),
    "function_call_output": ItemType("fco", {"output": _S + _A}, status=True),
    "reasoning": ItemType("rs", {"summary": _A}, checked=True),
    "custom_tool_call": ItemType("ctc", {"call_id": _S, "name": _S, "input": _S}, checked=True),
    "custom_tool_call_output": ItemType("ctco", {"call_id": _S, "output": _S + _A}),
    "web_search_call": ItemType("ws", {"action": _O, "status": _S}, status=True, checked=True),
    "file_search_call": ItemType("fs", {"queries": _A, "status": _S}, status=True, checked=True),
    "computer_call": ItemType(
        "cu", {"call_id": _S, "pending_safety_checks": _A, "status": _S}, status=True, checked=True
    ),
    "computer_call_output": ItemType("cuo", {"call_id": _S, "output": _O}, status=True),
    "code_interpreter_call": ItemType(
        "ci",
        {"container_id": _S, "code": _S + _N, "outputs": _A + _N, "status": _S},
        status=True,
        checked=True,
    ),
    "image_generation_call": ItemType(
        "ig", {"result": _S + _N, "status": _S}, status=True, checked=True
    ),
    "local_shell_call": ItemType("lsh", {"call_id": _S, "action": _O, "status": _S}, status=True),
    "local_shell_call_output": ItemType("lsho", {"output": _S}),
    "shell_call": ItemType("sh", {"call_id": _S, "action": _O}, status=True),
    "shell_call_output": ItemType("sho", {"call_id": _S, "output": _A}, status=True),
    "apply_patch_call": ItemType(
        "apc", {"call_id": _S, "operation": _O, "status": _S}, status=True
    ),
    "apply_patch_call_output": ItemType("apco", {"call_id": _S, "status": _S}, status=True),
    "mcp_list_tools": ItemType("mcpl", {"server_label": _S, "tools": _A}),
    "mcp_approval_request": ItemType("mcpr", {"server_label": _S, "name": _S, "arguments": _S}),
    "mcp_approval_response": ItemType("mcpa", {"approval_request_id": _S, "approve": _B}),
    "mcp_call": ItemType("mcp", {"server_label": _S, "name": _S, "arguments": _S}),
    "compaction": ItemType("cmp", {"encrypted_content": _S}),
    "tool_search_call": ItemType("tsc", {"arguments": ()}, status=True),
    "tool_search_output": ItemType("tso", {"tools": _A}, status=True),
    "additional_tools": ItemType("adt", {"role": _S, "tools": _A}),
    "configuration_update": ItemType("cfg"),
    "program": ItemType("prg", {"call_id": _S, "code": _S, "fingerprint": _S}),
    "program_output": ItemType("prgo", {"call_id": _S, "result": _S, "status": _S}, status=True),
}
#: ``item_reference`` is resolved, not stored: see :func:`resolve_reference`.
ITEM_REFERENCE = "item_reference"
ID_MAX_LENGTH = Message._meta.get_field("item_id").max_length

#: ``include`` values (the SDK's ``ResponseIncludable``) and the fields each one governs:
#: (item type, path to the field; ``content[]`` means every content part of the given type).
INCLUDABLE: dict[str, tuple[str, tuple[str, ...]]] = {
    "message.output_text.logprobs": ("message", ("content[output_text]", "logprobs")),
    "message.input_image.image_url": ("message", ("content[input_image]", "image_url")),
    "reasoning.encrypted_content": ("reasoning", ("encrypted_content",)),
    "file_search_call.results": ("file_search_call", ("results",)),
    "web_search_call.results": ("web_search_call", ("results",)),
    "web_search_call.action.sources": ("web_search_call", ("action", "sources")),
    "computer_call_output.output.image_url": ("computer_call_output", ("output", "image_url")),
    "code_interpreter_call.outputs": ("code_interpreter_call", ("outputs",)),
}


def _missing(param: str) -> OpenAIParamError:
    return OpenAIParamError(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def _expected(types: tuple[str, ...]) -> str:
    names = [a_type(t) for t in types]
    return names[0] if len(names) == 1 else "one of " + " or ".join(names)


def item_to_input(item, param: str) -> MessageInput:
    """Check one item of an ``items`` array and translate it to a :class:`MessageInput`.

    ``param`` is the item's path (``items[3]``) for the errors. Raises
    :class:`OpenAIParamError`: not an object, NUL anywhere, unknown ``type``, a missing or
    mistyped required field, an ``id`` that is not a string, too long or of the wrong prefix.
    """
    if not isinstance(item, Mapping):
        raise invalid_type(param, "an object", item)
    if contains_nul(item):
        raise OpenAIParamError(
            f"Invalid '{param}': the NUL character (\\u0000) is not allowed.",
            param=param,
            code="invalid_value",
        )
    item_type = item.get("type", "message")
    if not isinstance(item_type, str) or not item_type:
        raise invalid_type(f"{param}.type", "a string", item_type)
    spec = ITEM_TYPES.get(item_type)
    if spec is None:
        supported = ", ".join(f"'{name}'" for name in (*ITEM_TYPES, ITEM_REFERENCE))
        raise OpenAIParamError(
            f"Invalid value: '{item_type[:64]}'. Supported values are: {supported}.",
            param=f"{param}.type",
            code="invalid_value",
        )
    item_id = _sent_id(item, spec, param)
    status = item.get("status")
    if status is None:
        status = "completed"
    elif not isinstance(status, str):
        raise invalid_type(f"{param}.status", "a string", status)
    if item_type == "message":
        return _message_to_input(item, param, item_id, status)
    for name, types in spec.required.items():
        if name not in item:
            raise _missing(f"{param}.{name}")
        if types and json_type_name(item[name]) not in types:
            raise invalid_type(f"{param}.{name}", _expected(types), item[name])
    call_id = item.get("call_id")
    if call_id is not None and not isinstance(call_id, str):
        raise invalid_type(f"{param}.call_id", "a string", call_id)
    return MessageInput(
        item_type=item_type,
        item_id=item_id,
        role="tool" if item_type.endswith("_output") else "",
        content=_output_text(item.get("output")),
        payload={k: v for k, v in item.items() if k != "id"},
        tool_call_id=call_id or "",
        status=status,
    )


def _output_text(output) -> str:
    """The text other formats show for a tool output: the string, or its text parts."""
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "\n".join(
            part["text"]
            for part in output
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return ""


def _sent_id(item: Mapping, spec: ItemType, param: str) -> str:
    if "id" not in item or item["id"] is None:
        return ""
    item_id = item["id"]
    if not isinstance(item_id, str):
        raise invalid_type(f"{param}.id", "a string", item_id)
    if not item_id or len(item_id) > ID_MAX_LENGTH:
        raise OpenAIParamError(
            f"Invalid '{param}.id': expected a string of 1 to {ID_MAX_LENGTH} characters, but "
            f"got a string with length {len(item_id)} instead.",
            param=f"{param}.id",
            code="invalid_value",
        )
    if spec.checked and not item_id.startswith(spec.prefix):
        raise OpenAIParamError(
            f"Invalid '{param}.id': '{item_id}'. Expected an ID that begins with '{spec.prefix}'.",
            param=f"{param}.id",
            code="invalid_value",
        )
    return item_id


def _message_to_input(item: Mapping, param: str, item_id: str, status: str) -> MessageInput:
    role = item.get("role")
    if role is None:
        raise _missing(f"{param}.role")
    if role not in MESSAGE_ROLES:
        raise OpenAIParamError(
            f"Invalid value: '{role}'. Supported values are: 'assistant', 'system', "
            "'developer', and 'user'.",
            param=f"{param}.role",
            code="invalid_value",
        )
    if "content" not in item:
        raise _missing(f"{param}.content")
    content = item["content"]
    if isinstance(content, str):
        parts = [text_part(role, content)]
    elif isinstance(content, list):
        for index, part in enumerate(content):
            if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
                raise invalid_type(f"{param}.content[{index}]", "an object with a type", part)
        parts = [dict(part) for part in content]
    else:
        raise invalid_type(f"{param}.content", "one of a string or array", content)
    text = "\n".join(
        part["text"]
        for part in parts
        if part["type"] in TEXT_PART_TYPES and isinstance(part.get("text"), str)
    )
    # The message's other fields (``phase``, fields unknown today), marked as an OpenAI
    # message's: a Telnyx message keeps its own fields (``tool_choice``) in ``payload`` too.
    extra = {k: v for k, v in item.items() if k not in MESSAGE_COLUMNS}
    return MessageInput(
        role=role,
        item_id=item_id,
        content=text,
        content_parts=parts,
        payload={"type": "message", **extra} if extra else None,
        status=status,
    )


def text_part(role: str, text: str) -> dict:
    """String content as OpenAI stores it: ``output_text`` for the assistant, else
    ``input_text``."""
    if role == "assistant":
        return {"type": "output_text", "text": text, "annotations": []}
    return {"type": "input_text", "text": text}


def item_public_id(message: Message) -> str:
    """The item's wire id: the id it was sent with, else ``<type prefix>_<32 hex>``."""
    if message.item_id:
        return message.item_id
    spec = ITEM_TYPES.get(message.item_type)
    return prefixed(message.public_id, spec.prefix if spec else "msg")


def render_item(message: Message, include: frozenset[str] = frozenset()) -> dict:
    """A stored row as a ``ConversationItem``: the item as sent, with its ``id``, ``type``,
    the ``status`` the SDK model requires (``completed`` when none was sent), and the fields
    governed by ``include`` left out unless included.

    Messages written through Telnyx or AgentPhone have no content parts; their text renders
    as one ``input_text`` part (``output_text`` for the assistant).
    """
    item_id = item_public_id(message)
    if message.item_type != "message":
        data = dict(message.payload or {})
        data.update(id=item_id, type=message.item_type)
        spec = ITEM_TYPES.get(message.item_type)
        if spec is None or spec.status:
            data.setdefault("status", message.status)
    else:
        payload = message.payload
        is_openai = isinstance(payload, dict) and payload.get("type") == "message"
        data = dict(payload) if is_openai else {}
        data.update(
            type="message",
            id=item_id,
            status=message.status,
            role=message.role or "unknown",
            content=message.content_parts or [text_part(message.role, message.content)],
        )
    for value, (item_type, path) in INCLUDABLE.items():
        if item_type == data["type"] and value not in include:
            data = _without(data, path)
    return data


def _without(data: dict, path: tuple[str, ...]) -> dict:
    """``data`` less the field at ``path``, copying only what changes (rows stay untouched)."""
    head, rest = path[0], path[1:]
    if head.startswith("content["):
        part_type = head[len("content[") : -1]
        parts = data.get("content")
        if not isinstance(parts, list) or not any(
            isinstance(p, dict) and p.get("type") == part_type and rest[0] in p for p in parts
        ):
            return data
        data = dict(data)
        data["content"] = [
            {k: v for k, v in p.items() if k != rest[0]}
            if isinstance(p, dict) and p.get("type") == part_type
            else p
            for p in parts
        ]
        return data
    if head not in data:
        return data
    if not rest:
        return {k: v for k, v in data.items() if k != head}
    if not isinstance(data[head], dict):
        return data
    data = dict(data)
    data[head] = _without(data[head], rest)
    return data


def include_param(params) -> frozenset[str]:
    """The ``include`` query parameter (``include[]=…`` as the SDK sends it, or ``include=…``),
    checked against :data:`INCLUDABLE` as OpenAI does (``invalid_value`` on ``include``)."""
    values = [*params.getlist("include[]"), *params.getlist("include")]
    for value in values:
        if value not in INCLUDABLE:
            supported = ", ".join(f"'{name}'" for name in INCLUDABLE)
            raise OpenAIParamError(
                f"Invalid value: '{value[:128]}'. Supported values are: {supported}.",
                param="include",
                code="invalid_value",
            )
    return frozenset(values)


def copy_item(message: Message) -> dict:
    """A stored item's full wire form (every governed field included), for
    ``item_reference``; the copy gets an id of its own."""
    data = copy.deepcopy(render_item(message, frozenset(INCLUDABLE)))
    data.pop("id", None)
    return data
