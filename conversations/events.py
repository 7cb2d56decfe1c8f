"""Domain events, raised by the services inside the writing transaction.

Receivers (webhook outbox, …) connect to these signals. They run in the same database
transaction as the change, so a row they write commits or rolls back with it.

- ``metadata_changed(sender=Conversation, conversation, change)``: ``change`` is the
  :class:`~conversations.models.MetadataChange` audit row just written.
- ``message_added(sender=Conversation, conversation, message)``: a
  :class:`~conversations.models.Message` was stored.
- ``ai_resumed(sender=Conversation, conversation, change)``: a timed handoff ended and its
  resume was written down; ``change`` is its audit row (sent after its ``metadata_changed``).
"""

from django.dispatch import Signal

metadata_changed = Signal()
message_added = Signal()
ai_resumed = Signal()
