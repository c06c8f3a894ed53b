"""What the database says after a scenario: `python -m bench.dbcheck --state s.json --spec
spec.json --out facts.json`, with the shape's environment (DATABASE_URL, ...).

It first waits (bounded) until the scenario's messages are stored and handed to the desk —
processing may lag behind the acknowledgements — then reads, for the scenario's inbound ids
(found by their prefixes): when each was stored, its chat line and conversation; for each
conversation its area, assignees, hand-off time and first bot reply (the outbox row's
creation); and the counts the correctness checks need. With `"floor": true` in the spec it
only counts the floor's rows.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.floor import TABLE

POLL_SECONDS = 0.5
# Counts unchanged this long mean processing has stopped (finished or stuck).
STABLE_SECONDS = 5.0
CHUNK = 500


def _chunks(items: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _epoch(moment: Any) -> float | None:
    return None if moment is None else float(moment.timestamp())


def _scope(state: dict[str, Any], prefixes: dict[str, str], path: str = "") -> Any:
    from django.db.models import Q

    query = Q()
    for gateway, prefix in prefixes.items():
        connection_id = state["connections"][gateway]["id"]
        query |= Q(
            **{f"{path}connection_id": connection_id, f"{path}provider_id__startswith": prefix}
        )
    return query


def _progress(state: dict[str, Any], prefixes: dict[str, str]) -> tuple[int, int]:
    from ispdesk.conversations.models import Message
    from ispdesk.messaging.models import InboundMessage

    stored = InboundMessage.objects.filter(_scope(state, prefixes)).count()
    lines = Message.objects.filter(_scope(state, prefixes, "inbound__")).count()
    return stored, lines


def wait_until_settled(
    state: dict[str, Any], prefixes: dict[str, str], expected: int, limit: float
) -> dict[str, Any]:
    """Poll until every expected message is stored and has its chat line, or the counts stop
    moving, or `limit` seconds pass."""
    started = time.monotonic()
    last, last_change = (-1, -1), started
    while True:
        progress = _progress(state, prefixes)
        now = time.monotonic()
        if progress != last:
            last, last_change = progress, now
        stored, lines = progress
        done = stored >= expected and lines >= stored
        if done or now - last_change >= STABLE_SECONDS or now - started >= limit:
            return {
                "settled": done,
                "waited": round(now - started, 3),
                "settled_at": time.time(),
                "stored": stored,
                "lines": lines,
            }
        time.sleep(POLL_SECONDS)


def desk_facts(state: dict[str, Any], prefixes: dict[str, str]) -> dict[str, Any]:
    from django.db.models import Count, Max, Min, Q

    from ispdesk.conversations.models import (
        Conversation,
        ConversationEvent,
        EventKind,
        Message,
        Sender,
    )
    from ispdesk.messaging.models import InboundMessage

    stored_ids = list(
        InboundMessage.objects.filter(_scope(state, prefixes)).values_list("provider_id", flat=True)
    )
    inbound: dict[str, list[Any]] = {}
    for provider_id, received_at, line_id, conversation_id in Message.objects.filter(
        _scope(state, prefixes, "inbound__")
    ).values_list("inbound__provider_id", "inbound__received_at", "id", "conversation_id"):
        inbound[provider_id] = [_epoch(received_at), line_id, conversation_id]
    ids = sorted({row[2] for row in inbound.values()})
    conversations: dict[int, dict[str, Any]] = {}
    # The bot's replies: how many, how many not sent yet when this ran, when the last left.
    sent_replies: dict[str, Any] = {"count": 0, "unsent": 0, "last_sent_at": None}
    contacts_with_more: int = 0
    for chunk in _chunks(ids):
        for row in Conversation.objects.filter(pk__in=chunk).values(
            "pk", "area_id", "assignee__user_id", "status", "created_at", "contact_id"
        ):
            conversations[row["pk"]] = {
                "area": row["area_id"],
                "assignee_user": row["assignee__user_id"],
                "status": row["status"],
                "created_at": _epoch(row["created_at"]),
                "contact": row["contact_id"],
                "assigned_users": [],
                "handoff_at": None,
                "bot_reply_at": None,
            }
        for conversation_id, kind, created_at, user_id in ConversationEvent.objects.filter(
            conversation_id__in=chunk, kind__in=[EventKind.HANDOFF, EventKind.ASSIGNED]
        ).values_list("conversation_id", "kind", "created_at", "operator__user_id"):
            facts = conversations[conversation_id]
            if kind == EventKind.HANDOFF:
                at = _epoch(created_at)
                facts["handoff_at"] = (
                    at if facts["handoff_at"] is None else min(facts["handoff_at"], at)
                )
            elif user_id is not None:
                facts["assigned_users"].append(user_id)
        replies = (
            Message.objects.filter(
                conversation_id__in=chunk, sender=Sender.BOT, outbound__isnull=False
            )
            .values("conversation_id")
            .annotate(
                first=Min("outbound__created_at"),
                count=Count("id"),
                unsent=Count("id", filter=Q(outbound__sent_at__isnull=True)),
                last=Max("outbound__sent_at"),
            )
            .values_list("conversation_id", "first", "count", "unsent", "last")
        )
        for conversation_id, first, count, unsent, last in replies:
            conversations[conversation_id]["bot_reply_at"] = _epoch(first)
            sent_replies["count"] += count
            sent_replies["unsent"] += unsent
            at = _epoch(last)
            if at is not None:
                latest = sent_replies["last_sent_at"]
                sent_replies["last_sent_at"] = at if latest is None else max(latest, at)
    # The sender runs at the lowest priority: its backlog drains after the screens'.
    sent_replies["checked_at"] = time.time()
    per_contact: dict[int, int] = {}
    for facts in conversations.values():
        per_contact[facts["contact"]] = per_contact.get(facts["contact"], 0) + 1
    contacts_with_more = sum(1 for count in per_contact.values() if count > 1)
    lines_per_inbound = (
        Message.objects.filter(_scope(state, prefixes, "inbound__"))
        .values("inbound_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    return {
        "inbound": inbound,
        "stored_ids": stored_ids,
        "conversations": {str(key): value for key, value in conversations.items()},
        "replies": sent_replies,
        "counts": {
            "stored": len(stored_ids),
            "lines": len(inbound),
            "inbound_with_two_lines": lines_per_inbound,
            "contacts_with_two_conversations": contacts_with_more,
            "conversations": len(conversations),
        },
    }


def floor_facts(prefixes: dict[str, str]) -> dict[str, Any]:
    from django.db import connection

    stored_ids: list[str] = []
    with connection.cursor() as cursor:
        for prefix in prefixes.values():
            cursor.execute(f"SELECT id FROM {TABLE} WHERE id LIKE %s", [prefix + "%"])  # noqa: S608
            stored_ids += [str(row[0]) for row in cursor.fetchall()]
    return {"stored_ids": stored_ids, "counts": {"stored": len(stored_ids)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import django

    django.setup()
    state = json.loads(args.state.read_text())
    spec = json.loads(args.spec.read_text())
    prefixes: dict[str, str] = spec["prefixes"]
    if spec.get("floor"):
        facts = floor_facts(prefixes)
    else:
        settle = wait_until_settled(state, prefixes, int(spec["expected"]), float(spec["wait"]))
        facts = desk_facts(state, prefixes)
        facts["settle"] = settle
    args.out.write_text(json.dumps(facts))


if __name__ == "__main__":
    main()
