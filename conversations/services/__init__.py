"""Every write to the store. The API formats, the admin and the commands all call these.

One module per entity: :mod:`.conversations` (metadata, AI replies), :mod:`.handoff` (the AI
switch and the timed handoff's resumes), :mod:`.messages`, :mod:`.api_keys`, :mod:`.purge`
(idle conversations); :mod:`.actors` names who writes. Everything public is re-exported here, so
callers write ``from conversations.services import conversation_metadata_merge``.

How metadata writes lock, validate and audit is told once, in :mod:`.conversations`.
"""

from conversations.services.actors import SYSTEM, Actor
from conversations.services.api_keys import (
    API_KEY_TOUCH_INTERVAL,
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
    project_get_or_create,
)
from conversations.services.conversations import (
    AIDisabled,
    ResponderFailed,
    ResponderNotConfigured,
    conversation_ai_reply,
    conversation_create,
    conversation_delete,
    conversation_lock,
    conversation_metadata_merge,
    conversation_metadata_replace,
    conversation_update_fields,
)
from conversations.services.handoff import (
    conversation_ai_set,
    handoff_extend_for_agent,
    handoffs_due,
    handoffs_resume_due,
)
from conversations.services.messages import (
    PREVIEW_LENGTH,
    DuplicateItemId,
    MessageInput,
    MessageInvalid,
    message_delete,
    messages_check,
    messages_create,
)
from conversations.services.purge import conversations_purge

__all__ = [
    "API_KEY_TOUCH_INTERVAL",
    "PREVIEW_LENGTH",
    "SYSTEM",
    "AIDisabled",
    "Actor",
    "DuplicateItemId",
    "MessageInput",
    "MessageInvalid",
    "ResponderFailed",
    "ResponderNotConfigured",
    "api_key_authenticate",
    "api_key_create",
    "api_key_revoke",
    "conversation_ai_reply",
    "conversation_ai_set",
    "conversation_create",
    "conversation_delete",
    "conversation_lock",
    "conversation_metadata_merge",
    "conversation_metadata_replace",
    "conversation_update_fields",
    "conversations_purge",
    "handoff_extend_for_agent",
    "handoffs_due",
    "handoffs_resume_due",
    "message_delete",
    "messages_check",
    "messages_create",
    "project_get_or_create",
]
