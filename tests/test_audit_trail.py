"""The audit trail says who changed what (docs/admin.md, *History*): an API write's row names
the API key, the format it came through and the request id the response carried, on every
write path (PostgreSQL's one statement and the locking path)."""

from http import HTTPStatus

from conversations.models import ApiKey, MetadataChange


def test_an_api_write_s_audit_row_names_the_key_the_format_and_the_request(http):
    created = http.post("/openai/v1/conversations", json={})
    conv_id = created.json()["id"]
    updated = http.post(f"/openai/v1/conversations/{conv_id}", json={"metadata": {"a": "1"}})
    assert updated.status_code == HTTPStatus.OK

    change = MetadataChange.objects.get(action="merge")
    key = ApiKey.objects.get()
    assert (change.actor_type, change.actor, change.api_key, change.source) == (
        "api_key",
        f"key {key.prefix}…",
        key,
        "openai",
    )
    assert change.request_id == updated.headers["x-request-id"]
    assert (change.before, change.after) == ({}, {"a": "1"})
