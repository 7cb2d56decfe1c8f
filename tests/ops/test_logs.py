"""One structured line per request: the fields operators need, never keys, bodies or values."""

import io
import json
import logging

import pytest

from conversations.ops.observability import JsonLineFormatter, KeyValueFormatter


@pytest.fixture
def request_log():
    """Lines the ``convstore.request`` logger writes during the test, through a formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("convstore.request")
    logger.addHandler(handler)

    def lines():
        return stream.getvalue().splitlines()

    lines.handler = handler
    yield lines
    logger.removeHandler(handler)


@pytest.mark.django_db
def test_json_line_per_request_without_secrets(client, api_key, request_log):
    request_log.handler.setFormatter(JsonLineFormatter())
    secret_value = "Jane-Secret-Value-42"
    created = client.post(
        "/telnyx/v2/ai/conversations",
        {"name": "n", "metadata": {"customer": secret_value}},
        "application/json",
        headers={"Authorization": f"Bearer {api_key}", "x-ms-user-isolation-key": "u-1"},
    )
    assert created.status_code == 200
    listed = client.get(
        f"/telnyx/v2/ai/conversations?metadata->customer=eq.{secret_value}",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert listed.status_code == 200
    refused = client.get(
        "/openai/v1/conversations/conv_x", headers={"Authorization": "Bearer cs_wrong"}
    )
    assert refused.status_code == 401

    lines = request_log()
    assert len(lines) == 3
    entries = [json.loads(line) for line in lines]
    first = entries[0]
    assert set(first) == {
        "time",
        "level",
        "logger",
        "message",
        "request_id",
        "method",
        "format",
        "route",
        "status",
        "duration_ms",
        "db_ms",
        "db_queries",
        "project",
    }
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert first["request_id"] == created["x-request-id"]
    assert (first["method"], first["format"], first["route"], first["status"]) == (
        "POST",
        "telnyx",
        "telnyx/v2/ai/conversations",
        200,
    )
    assert first["project"] == "acme"
    assert first["duration_ms"] > 0 and first["db_queries"] > 0
    assert entries[1]["route"] == "telnyx/v2/ai/conversations"
    assert (entries[2]["format"], entries[2]["status"], entries[2]["project"]) == (
        "openai",
        401,
        None,
    )
    text = "\n".join(lines)
    for secret in (api_key, api_key[:12], "cs_wrong", secret_value, "u-1", "metadata->"):
        assert secret not in text


@pytest.mark.django_db
def test_text_lines_for_terminals(client, request_log):
    request_log.handler.setFormatter(KeyValueFormatter())
    response = client.get("/healthz")
    (line,) = request_log()
    assert " INFO convstore.request request " in line
    assert f"request_id={response['x-request-id']}" in line
    assert "format=ops route=healthz status=200" in line
    assert "project=-" in line
