"""Who makes a change, and through which path: recorded in the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conversations.models import ApiKey, MetadataChange


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

    @property
    def audit_label(self) -> str:
        """``label`` as the audit row's ``actor`` column holds it (cut to its length)."""
        return self.label[: MetadataChange._meta.get_field("actor").max_length]

    def metadata_change(
        self, conversation, *, action: str, before, after, changed_at=None
    ) -> MetadataChange:
        """The audit row (unsaved) of this actor changing ``conversation``'s metadata from
        ``before`` to ``after`` (dicts, or ``None``); ``action`` is a
        :class:`MetadataChange.Action` value; ``changed_at`` (an aware datetime) defaults to
        the model's (now). Every writer builds its audit rows here: the services' locking
        path, the PostgreSQL fast path and the bulk import."""
        fields = {"changed_at": changed_at} if changed_at is not None else {}
        return MetadataChange(
            conversation=conversation,
            actor_type=self.kind,
            actor=self.audit_label,
            api_key=self.api_key,
            user=self.user,
            source=self.source,
            action=action,
            before=before,
            after=after,
            request_id=self.request_id,
            **fields,
        )

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
