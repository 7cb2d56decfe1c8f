"""The admin's chat view shows OpenAI tool calls, their outputs and reasoning readably."""

import json

from django.urls import reverse

from conversations.models import Conversation


def test_the_thread_shows_tool_calls_outputs_and_reasoning(client, admin_client, api_key):
    items = [
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Check the tool."}]},
        {"type": "reasoning", "summary": [], "encrypted_content": "gAAAA-secret"},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather",
         "arguments": '{"city":"Paris"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
        {"type": "web_search_call", "status": "completed",
         "action": {"type": "search", "query": "paris forecast"}},
        {"role": "assistant", "content": "It is 18C."},
    ]  # fmt: skip
    response = client.post(
        "/openai/v1/conversations",
        data=json.dumps({"items": items}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
    )
    assert response.status_code == 200, response.content
    conversation = Conversation.objects.get()
    url = reverse("admin:conversations_conversation_change", args=[conversation.pk])
    html = admin_client.get(url).content.decode()
    shown = [
        "Weather in Paris?",
        "Check the tool.",
        "(encrypted reasoning)",
        "get_weather({&quot;city&quot;:&quot;Paris&quot;}) · call_1",
        "→ 18C · call_1",
        "paris forecast",
        "It is 18C.",
    ]
    positions = [html.index(text) for text in shown]
    assert positions == sorted(positions)
    assert "<b>function_call</b>" in html and "<b>reasoning</b>" in html
    assert "gAAAA-secret" not in html
