"""Fixtures for the admin tests: conversations made through the services."""

import pytest

from conversations.services import Actor, MessageInput, conversation_create


@pytest.fixture
def make_conversation(project):
    """Create a conversation in ``acme`` through the service (as an API client would)."""

    def make(metadata=None, messages=(), **context):
        return conversation_create(
            project=project,
            actor=Actor.for_command("tests"),
            metadata=metadata or {},
            messages=[MessageInput(role=r, content=c) for r, c in messages],
            **context,
        )

    return make
