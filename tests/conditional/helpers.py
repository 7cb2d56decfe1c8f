"""Helpers for the conditional-request tests: one conversation's GET route and ETag in every
format, and the actor of the writes a test makes through the services."""

from conversations.services import Actor

CMD = Actor.for_command("tests")


def detail_urls(conversation):
    """The GET route of one conversation in every format."""
    hex_id = conversation.id.hex
    return {
        "openai": f"/openai/v1/conversations/conv_{hex_id}",
        "azure": f"/azure/openai/v1/conversations/conv_{hex_id}",
        "telnyx": f"/telnyx/v2/ai/conversations/{conversation.id}",
        "agentphone": f"/agentphone/v1/conversations/conv_{hex_id}",
    }


def etags_everywhere(http, conversation):
    return {
        name: http.get(url).headers.get("etag") for name, url in detail_urls(conversation).items()
    }
