"""Who makes a change, and through which path: recorded in the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..models import ApiKey, MetadataChange


@dataclass(frozen=True)
class Actor:
    """Who makes a change and through which path; recorded in the audit trail.

    ``kind`` is a :class:`MetadataChange.ActorType` value; ``source`` names the path
    (``openai``, ``azure``, ``telnyx``, ``agentphone``, ``admin``, ``command``, ``system``).
    """

    kind: str
    source: str
    label: str
    api_key: ApiKey | None = None
    user: Any = None
    request_id: str = ""

    @classmethod
    def for_api_key(cls, api_key: ApiKey, *, source: str, request_id: str = "") -> Actor:
        """An API client authenticated with ``api_key``."""
        return cls(
            MetadataChange.ActorType.API_KEY,
            source,
            f"key {api_key.prefix}…",
            api_key=api_key,
            request_id=request_id,
        )

    @classmethod
    def for_staff(cls, user) -> Actor:
        """A staff user in the admin."""
        return cls(MetadataChange.ActorType.STAFF, "admin", user.get_username(), user=user)

    @classmethod
    def for_command(cls, command: str) -> Actor:
        """A management command, e.g. ``Actor.for_command("conversation set")``."""
        return cls(MetadataChange.ActorType.COMMAND, "command", command)


SYSTEM = Actor(MetadataChange.ActorType.SYSTEM, "system", "system")
