"""Every body route of every format, and what an error in each format's own shape looks like."""

from conversations.domain.ids import prefixed

# (format, method, path template); {conv} is conv_<hex>, {uuid} the dashed UUID.
BODY_ROUTES = [
    ("openai", "POST", "/openai/v1/conversations"),
    ("openai", "POST", "/openai/v1/conversations/{conv}"),
    ("openai", "POST", "/openai/v1/conversations/{conv}/items"),
    ("azure", "POST", "/azure/openai/v1/conversations"),
    ("azure", "POST", "/azure/openai/v1/conversations/{conv}"),
    ("azure", "POST", "/azure/openai/v1/conversations/{conv}/items"),
    ("telnyx", "POST", "/telnyx/v2/ai/conversations"),
    ("telnyx", "PUT", "/telnyx/v2/ai/conversations/{uuid}"),
    ("telnyx", "POST", "/telnyx/v2/ai/conversations/{uuid}/message"),
    ("telnyx", "POST", "/telnyx/v2/ai/assistants/a1/chat"),
    ("agentphone", "PATCH", "/agentphone/v1/conversations/{conv}"),
]

# A valid body per route, that changes something visible.
VALID_BODIES = {
    "/openai/v1/conversations": {"metadata": {"via": "chunked"}},
    "/openai/v1/conversations/{conv}": {"metadata": {"via": "chunked"}},
    "/openai/v1/conversations/{conv}/items": {"items": [{"role": "user", "content": "chunked"}]},
    "/telnyx/v2/ai/conversations": {"metadata": {"via": "chunked"}},
    "/telnyx/v2/ai/conversations/{uuid}": {"metadata": {"via": "chunked"}},
    "/telnyx/v2/ai/conversations/{uuid}/message": {"role": "user", "content": "chunked"},
    "/telnyx/v2/ai/assistants/a1/chat": {"content": "chunked", "conversation_id": "{uuid}"},
    "/agentphone/v1/conversations/{conv}": {"metadata": {"via": "chunked"}},
}


def valid_body(template: str, conversation) -> dict:
    """The valid body of a route (Azure shares OpenAI's), with ids filled in."""
    key = template.replace("/azure/openai/v1", "/openai/v1")
    body = VALID_BODIES[key]
    if "conversation_id" in body:
        body = {**body, "conversation_id": str(conversation.id)}
    return body


def fill(template: str, conversation) -> str:
    """A path template with the conversation's ids."""
    return template.format(conv=prefixed(conversation.id, "conv"), uuid=str(conversation.id))


def auth_headers(fmt: str, key: str) -> dict:
    """HTTP headers authenticating as ``key`` (Azure uses ``api-key``)."""
    return {"api-key": key} if fmt == "azure" else {"Authorization": f"Bearer {key}"}


def assert_error_shape(fmt: str, status: int, body) -> None:
    """``body`` is an error in ``fmt``'s own shape (README's error-shape sections)."""
    if fmt in ("openai", "azure"):
        assert set(body) == {"error"}, body
        assert set(body["error"]) == {"message", "type", "param", "code"}, body
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    elif fmt == "telnyx":
        if status == 422:
            assert isinstance(body["detail"], list) and body["detail"], body
            assert all(set(item) == {"loc", "msg", "type"} for item in body["detail"]), body
        else:
            assert set(body) == {"errors"}, body
            (error,) = body["errors"]
            assert {"code", "title", "detail"} <= set(error), body
    else:
        assert set(body) == {"detail"}, body
        if status == 422:
            assert all(set(item) == {"loc", "msg", "type"} for item in body["detail"]), body
        else:
            assert isinstance(body["detail"], str) and body["detail"], body
