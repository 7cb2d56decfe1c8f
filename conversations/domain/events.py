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

import threading

from django.dispatch import Signal


class DomainSignal(Signal):
    """A Django :class:`~django.dispatch.Signal` that can say which receivers are connected.

    Django keeps its receivers in ``Signal.receivers``, whose entries' layout is internal and
    has changed between releases; this class records each connection itself through the
    public :meth:`connect` / :meth:`disconnect`. A weakly connected receiver that is garbage
    collected without being disconnected stays recorded (:meth:`receiver_uids` then errs on
    the side of "someone else is listening").
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.connections: set[tuple[object, int]] = set()
        self.connections_lock = threading.Lock()

    @staticmethod
    def connection_key(receiver, sender, dispatch_uid) -> tuple[object, int]:
        """``(dispatch_uid or the receiver's identity, id(sender))``: one connection, keyed as
        Django documents it (a bound method is identified by its object and function)."""
        if dispatch_uid is not None:
            return (dispatch_uid, id(sender))
        if hasattr(receiver, "__func__"):
            return ((id(receiver.__self__), id(receiver.__func__)), id(sender))
        return (id(receiver), id(sender))

    def connect(self, receiver, sender=None, weak=True, dispatch_uid=None):
        super().connect(receiver, sender=sender, weak=weak, dispatch_uid=dispatch_uid)
        with self.connections_lock:
            self.connections.add(self.connection_key(receiver, sender, dispatch_uid))

    def disconnect(self, receiver=None, sender=None, dispatch_uid=None):
        disconnected = super().disconnect(receiver, sender=sender, dispatch_uid=dispatch_uid)
        if disconnected:
            with self.connections_lock:
                self.connections.discard(self.connection_key(receiver, sender, dispatch_uid))
        return disconnected

    def receiver_uids(self) -> frozenset:
        """The ``dispatch_uid`` of every connected receiver (``id(receiver)`` for those
        connected without one)."""
        with self.connections_lock:
            return frozenset(uid for uid, _ in self.connections)


metadata_changed = DomainSignal()
message_added = DomainSignal()
ai_resumed = DomainSignal()
