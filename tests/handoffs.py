"""Timed handoffs for tests: new conversations whose AI is switched off for a while."""

from datetime import timedelta

from conversations.services import Actor, conversation_ai_set, conversation_create

STAFF = Actor.for_command("tests")


def switched_off(project, *, count: int = 1, minutes: int = 15) -> list:
    """``count`` new conversations of ``project``, the AI switched off by ``STAFF`` for
    ``minutes`` (``ai_disabled_until`` that far ahead of the store's clock)."""
    return [
        conversation_ai_set(
            conversation=conversation_create(project=project, actor=STAFF),
            disabled=True,
            actor=STAFF,
            duration=timedelta(minutes=minutes),
        )[0]
        for _ in range(count)
    ]
