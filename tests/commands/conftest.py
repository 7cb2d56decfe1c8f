"""Helpers for the command tests: run a command and capture its output."""

from io import StringIO

import pytest
from django.core.management import call_command

from conversations.services import Actor, MessageInput, conversation_create


@pytest.fixture
def run():
    """``run(name, *args)`` → ``(stdout, stderr)``; CommandError propagates."""

    def run(*args, **options):
        out, err = StringIO(), StringIO()
        call_command(*args, stdout=out, stderr=err, **options)
        return out.getvalue(), err.getvalue()

    return run


@pytest.fixture
def make_conversation(project):
    def make(metadata=None, messages=(), **context):
        return conversation_create(
            project=project,
            actor=Actor.for_command("tests"),
            metadata=metadata or {},
            messages=[MessageInput(role=r, content=c) for r, c in messages],
            **context,
        )

    return make
