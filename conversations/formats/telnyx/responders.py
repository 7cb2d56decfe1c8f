"""Chat responders: who writes the AI reply of the Telnyx chat endpoint.

convstore stores conversations; it does not run a model. ``POST /telnyx/v2/ai/assistants/
{assistant_id}/chat`` asks the responder named by the ``CONVSTORE_CHAT_RESPONDER`` setting
(a dotted path, e.g. ``conversations.formats.telnyx.responders.echo``) for the reply. A responder is
a callable ``(conversation, message) -> str``: ``conversation`` is the locked
:class:`~conversations.models.Conversation`, ``message`` the user's just-stored
:class:`~conversations.models.Message`. It runs inside the request's transaction (so a
failure stores nothing) and is only called while the conversation's AI switch is on.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.utils.module_loading import import_string

from conversations.models import Conversation, Message
from conversations.services import ResponderNotConfigured

Responder = Callable[[Conversation, Message], str]

HOW_TO_CONFIGURE = (
    "Set CONVSTORE_CHAT_RESPONDER to the dotted path of a callable (conversation, message) -> "
    "str, e.g. CONVSTORE_CHAT_RESPONDER=conversations.formats.telnyx.responders.echo"
)


def echo(conversation: Conversation, message: Message) -> str:
    """An example responder: answers with the user's own words."""
    return f"You said: {message.content}"


def get_responder() -> Responder | None:
    """The configured responder, or ``None`` when ``CONVSTORE_CHAT_RESPONDER`` is empty.

    Raises:
        ResponderNotConfigured: the dotted path cannot be imported or is not callable.
    """
    path = settings.CONVSTORE_CHAT_RESPONDER
    if not path:
        return None
    try:
        responder = import_string(path)
    except ImportError as exc:
        raise ResponderNotConfigured(f"CONVSTORE_CHAT_RESPONDER={path!r}: {exc}") from exc
    if not callable(responder):
        raise ResponderNotConfigured(f"CONVSTORE_CHAT_RESPONDER={path!r} is not callable.")
    return responder
