"""Any value of If-Match, If-None-Match or Idempotency-Key, on any conversation route, gets
an answer below 500 (a property test)."""

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations.models import Conversation


@pytest.mark.django_db
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    header=st.sampled_from(["HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH", "HTTP_IDEMPOTENCY_KEY"]),
    value=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=300),
    route=st.sampled_from(
        [
            ("post", "/openai/v1/conversations/{conv}", {"metadata": {"a": "b"}}),
            ("post", "/openai/v1/conversations", {}),
            ("get", "/openai/v1/conversations/{conv}", None),
            ("put", "/telnyx/v2/ai/conversations/{uuid}", {"metadata": {"a": "b"}}),
            ("post", "/telnyx/v2/ai/conversations", {}),
            ("delete", "/telnyx/v2/ai/conversations/{uuid}", None),
            ("patch", "/agentphone/v1/conversations/{conv}", {"metadata": {}}),
            ("get", "/agentphone/v1/conversations/{conv}", None),
        ]
    ),
)
def test_no_header_value_gets_a_500(client, api_key, project, header, value, route):
    conversation = Conversation.objects.get_or_create(project=project, name="fuzz")[0]
    method, template, body = route
    path = template.format(conv=f"conv_{conversation.id.hex}", uuid=conversation.id)
    extra = {"HTTP_AUTHORIZATION": f"Bearer {api_key}", header: value}
    if body is None:
        response = getattr(client, method)(path, **extra)
    else:
        response = getattr(client, method)(
            path, data=json.dumps(body), content_type="application/json", **extra
        )
    assert response.status_code < 500, (header, value, response.content)
