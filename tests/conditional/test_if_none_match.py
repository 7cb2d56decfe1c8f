"""If-None-Match on GET: 304 without a body in every format while the tag is current."""

from http import HTTPStatus

import openai
import pytest

from conversations.domain.conditional import etag
from conversations.services import conversation_metadata_merge
from tests.conditional.helpers import CMD, detail_urls


def test_if_none_match_answers_304_without_a_body_in_every_format(http, make_conversation):
    conversation = make_conversation({"a": "1"})
    current = etag(conversation)
    for name, url in detail_urls(conversation).items():
        for header in (current, f"W/{current}", f'"other", {current}', "*"):
            response = http.get(url, headers={"If-None-Match": header})
            assert response.status_code == HTTPStatus.NOT_MODIFIED, (name, header)
            assert response.content == b"" and response.headers["etag"] == current
        response = http.get(url, headers={"If-None-Match": '"other"'})
        assert response.status_code == HTTPStatus.OK and response.headers["etag"] == current
    conversation_metadata_merge(conversation=conversation, patch={"b": "2"}, actor=CMD)
    for url in detail_urls(conversation).values():
        assert http.get(url, headers={"If-None-Match": current}).status_code == HTTPStatus.OK


def test_openai_sdk_reports_304_as_a_status_error(openai_client, make_conversation):
    """The SDK treats any non-2xx as an error, so a client polling with If-None-Match catches
    ``APIStatusError`` with status 304 ("unchanged")."""
    conversation = make_conversation({"a": "1"})
    with pytest.raises(openai.APIStatusError) as info:
        openai_client.conversations.retrieve(
            f"conv_{conversation.id.hex}", extra_headers={"If-None-Match": etag(conversation)}
        )
    assert info.value.status_code == HTTPStatus.NOT_MODIFIED
    assert info.value.response.content == b""
