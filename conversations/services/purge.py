"""The operator's purge of idle conversations (``manage.py purge``)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from conversations.models import Conversation, Project


def conversations_purge(
    *, idle_before: datetime, project: Project | None = None, batch_size: int = 1000
) -> int:
    """Delete conversations whose last activity is before ``idle_before``; returns how many.

    Deletes in batches of ``batch_size``, one transaction each, so a large purge never holds
    locks long; a conversation that receives a message meanwhile is kept (the condition is
    re-checked in each ``DELETE``). Messages and audit rows go with their conversation.
    """
    queryset = Conversation.objects.filter(last_message_at__lt=idle_before)
    if project is not None:
        queryset = queryset.filter(project=project)
    total = 0
    while True:
        pks = list(queryset.order_by().values_list("pk", flat=True)[:batch_size])
        if not pks:
            return total
        with transaction.atomic():
            _, per_model = queryset.filter(pk__in=pks).delete()
        total += per_model.get(Conversation._meta.label, 0)
