"""Conditional requests on one conversation: ETags, ``If-Match``, ``If-None-Match`` (RFC 9110 §13).

A conversation's state is named by ``(id, version)``: :attr:`Conversation.version` is bumped by
every write to it (metadata, fields, messages, import). Its strong entity tag is
``"<32 hex of the id>.<version>"`` (e.g. ``"3fa85f6457174562b3fc2c963f66afa6.7"``), the same in
every wire format for the same state, since every format renders the same row.

- ``If-Match`` (§13.1.1) uses the strong comparison: a weak tag (``W/"…"``) never matches;
  ``*`` matches any existing conversation. The services check it under the conversation's row
  lock (:func:`check_if_match`), so of two writers holding the same tag exactly one wins; the
  other gets :class:`PreconditionFailed`, which each format answers **412** in its own shape.
- ``If-None-Match`` (§13.1.2) uses the weak comparison; on ``GET`` of one conversation a match
  (or ``*``) answers **304** with no body.

An unknown or foreign conversation answers the format's 404 whatever the precondition says
(§13.2.1: preconditions are ignored when the response without them would not be 2xx).
Header values are bounded (:data:`MAX_HEADER_LENGTH`); a malformed value never matches.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

MAX_HEADER_LENGTH = 4096
_ENTITY_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')


def etag(conversation) -> str:
    """The strong ETag of a conversation's current state: ``"<id hex>.<version>"`` (quoted)."""
    return format_etag(conversation.pk, conversation.version)


def format_etag(conversation_id: uuid.UUID, version: int) -> str:
    """The ETag of conversation ``conversation_id`` at ``version``."""
    return f'"{conversation_id.hex}.{version}"'


class PreconditionFailed(Exception):
    """``If-Match`` names no current state of the conversation (RFC 9110 §15.5.13, 412).

    Raised by the services under the row lock; nothing was written. ``current`` is the ETag
    the conversation has now.
    """

    def __init__(self, conversation):
        self.current = etag(conversation)
        super().__init__(
            f"The conversation has changed: its current ETag is {self.current}, which If-Match "
            "does not name. Nothing was written: read the conversation again and retry with its "
            "new ETag."
        )


@dataclass(frozen=True)
class EntityTags:
    """A parsed ``If-Match`` / ``If-None-Match`` value: ``*`` or a list of entity tags.

    ``strong`` holds the opaque tags sent without ``W/``, ``weak`` those sent with it.
    """

    any: bool = False
    strong: frozenset[str] = frozenset()
    weak: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, value: str | None) -> EntityTags | None:
        """Parse a header value; ``None`` when the header is absent.

        A malformed or over-long value parses to an empty list, which matches nothing.
        """
        if value is None:
            return None
        if value.strip() == "*":
            return cls(any=True)
        if len(value) > MAX_HEADER_LENGTH:
            return cls()
        strong, weak, position = set(), set(), 0
        while position < len(value):
            match = _ENTITY_TAG.match(value, position)
            if match is None or match.end() == position:
                return cls()
            (weak if match.group(1) else strong).add(f'"{match.group(2)}"')
            position = match.end()
        return cls(strong=frozenset(strong), weak=frozenset(weak))

    @classmethod
    def for_version(cls, conversation_id: uuid.UUID, version: int) -> EntityTags:
        """The precondition "still at ``version``" (the admin's stale-page guard)."""
        return cls(strong=frozenset({format_etag(conversation_id, version)}))

    def matches_strongly(self, conversation) -> bool:
        """``If-Match`` semantics: ``*`` or the conversation's tag among the strong tags."""
        return self.any or etag(conversation) in self.strong

    def matches_weakly(self, conversation) -> bool:
        """``If-None-Match`` semantics: ``*`` or the conversation's tag among all tags."""
        current = etag(conversation)
        return self.any or current in self.strong or current in self.weak


def check_if_match(conversation, if_match: EntityTags | None) -> None:
    """Raise :class:`PreconditionFailed` unless ``if_match`` (if any) names the row's state.

    Call it on a row locked in the current transaction, before writing.
    """
    if if_match is not None and not if_match.matches_strongly(conversation):
        raise PreconditionFailed(conversation)
