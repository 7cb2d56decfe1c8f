"""After the run: did every update wrk counted land, with its audit row and outbox event?"""

from __future__ import annotations

from benchmarks.throughput.scenarios import Server


def verify(server: Server, *, audited: bool, connections: int) -> list[str]:
    """Compare the database with what wrk counted; return failure messages.

    The sum of ``version`` bumps over the server's pool is at least the updates counted and
    at most that plus one in-flight request per connection and run (wrk stops without reading
    it); with ``audited`` (convstore) there is exactly one audit row and one outbox event per
    update and each conversation holds its latest audit row's ``after``; without (the floor),
    none of either."""
    from django.db.models import Max, Sum

    from conversations.domain.ids import parse_id
    from conversations.models import Conversation, MetadataChange, WebhookEvent

    problems = list(server.problems)
    ids = [parse_id(cid) for cid in server.conversation_ids]
    pool = Conversation.objects.filter(pk__in=ids)
    in_flight = connections * server.update_runs
    bumps = (pool.aggregate(total=Sum("version"))["total"] or 0) - len(ids)
    if not server.updates <= bumps <= server.updates + in_flight:
        problems.append(
            f"{server.name}: {bumps} version bumps for {server.updates} counted updates "
            f"(at most {in_flight} more may have been in flight when wrk stopped)"
        )
    changes = MetadataChange.objects.filter(conversation_id__in=ids)
    audits = changes.count()
    events = WebhookEvent.objects.filter(conversation_id__in=ids).count()
    if audited:
        if audits != bumps or events != bumps:
            problems.append(
                f"{server.name}: {audits} audit rows and {events} outbox events for {bumps} "
                f"updates (want one of each per update)"
            )
        latest = changes.values("conversation_id").annotate(last=Max("id")).values("last")
        after = dict(
            MetadataChange.objects.filter(id__in=latest).values_list("conversation_id", "after")
        )
        for pk, metadata in pool.values_list("pk", "metadata"):
            if pk in after and metadata != after[pk]:
                problems.append(
                    f"{server.name}: conversation {pk} holds {metadata!r}, its latest audit "
                    f"row says {after[pk]!r}"
                )
                break
    elif audits or events:
        problems.append(f"{server.name}: the floor wrote {audits} audit rows, {events} events")
    return problems
