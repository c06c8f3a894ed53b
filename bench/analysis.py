"""Turning one scenario's raw records into figures: pure functions over plain data.

Inputs: the timetable, the load generator's outcomes, the events the websocket clients
recorded, the clients' identities and the database facts (`bench.dbcheck`). Matching:
- a message reaches the screen when a `message:new` event naming its chat line arrives at a
  client entitled to its conversation (supervisors always; operators of its area, its
  assignees, anyone for the general queue). Events carry the chat line's id, not the
  provider's, so the line comes from the database;
- a new chat reaches its area's queue when the first `conversation:incoming` for it arrives
  at an operator of that area, measured from the message that made the bot hand it over.
Times are wall-clock seconds; latencies are reported in milliseconds.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.loadgen import Outcome
from bench.stats import summarise, timeline
from bench.timetable import DUPLICATE, MESSAGE, Timetable

SUPERVISOR = "supervisor"
# The frame that carries several events in order (ispdesk.realtime.consumers.BUNDLE_FRAME).
BUNDLE_FRAME = "bundle"
CONVERSATION_TYPES = ("conversation:incoming", "conversation:update", "conversation:closed")


@dataclass(frozen=True)
class ClientInfo:
    name: str
    role: str
    user_id: int
    operator_id: int | None
    areas: frozenset[int]


@dataclass(frozen=True)
class Event:
    client: str
    at: float
    data: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.data.get("type", ""))

    @property
    def conversation(self) -> int | None:
        value = self.data.get("conversation")
        return value if isinstance(value, int) else None

    @property
    def key(self) -> str:
        return json.dumps(self.data, sort_keys=True)


def clients_from_state(items: Iterable[Mapping[str, Any]]) -> dict[str, ClientInfo]:
    return {
        item["name"]: ClientInfo(
            item["name"],
            item["role"],
            item["user_id"],
            item["operator_id"],
            frozenset(item["areas"]),
        )
        for item in items
    }


def events_from_lines(lines: Iterable[str]) -> list[Event]:
    """The consoles' events; a bundle frame (several events in one, in order) counts as its
    events, each received when the frame was."""
    events: list[Event] = []
    for line in lines:
        if line.strip():
            record = json.loads(line)
            frame = record["event"]
            inner = frame["events"] if frame.get("type") == BUNDLE_FRAME else [frame]
            events.extend(Event(record["client"], float(record["at"]), e) for e in inner)
    return events


def ms(seconds: Sequence[float]) -> dict[str, Any]:
    return summarise([value * 1000 for value in seconds]).as_dict()


def ms_timeline(timetable: Timetable, points: Sequence[tuple[float, float]]) -> list[Any]:
    """Latencies (seconds since the run's start, latency in seconds) per tenth of the run,
    at least 10 s each (a minute for the full soak), in milliseconds: when a long run slowed."""
    window = max(10.0, timetable.span / 10)
    return timeline([(at, latency * 1000) for at, latency in points], window, timetable.span)


# Entitlement -------------------------------------------------------------------------------


def entitled(client: ClientInfo, event: Event, conversation: Mapping[str, Any] | None) -> bool:
    """Whether `client` may receive `event` about a conversation with these facts.

    conversation:* events name their area and assignee, as published; other events are
    judged by the conversation's area and everyone it was ever assigned to.
    """
    if client.role == SUPERVISOR:
        return True
    assigned = set(conversation.get("assigned_users", [])) if conversation else set()
    if conversation and conversation.get("assignee_user") is not None:
        assigned.add(conversation["assignee_user"])
    if client.user_id in assigned:
        return True
    if event.type in CONVERSATION_TYPES:
        area = event.data.get("area")
        if (
            event.data.get("assignee") is not None
            and event.data.get("assignee") == client.operator_id
        ):
            return True
        if area is None:
            return event.data.get("status") == "pending"  # the general queue is everyone's
        return area in client.areas
    if conversation is None:
        return False
    area = conversation.get("area")
    return area in client.areas if area is not None else conversation.get("status") == "pending"


# Figures ---------------------------------------------------------------------------------


def ack_figures(timetable: Timetable, start: float, outcomes: Sequence[Outcome]) -> dict[str, Any]:
    ok = [outcome for outcome in outcomes if outcome.ok]
    failures = Counter(
        str(outcome.status) if outcome.status else outcome.error
        for outcome in outcomes
        if not outcome.ok
    )
    acked_messages = sum(
        len(delivery.message_ids)
        for delivery, outcome in zip(timetable.deliveries, outcomes, strict=True)
        if outcome.ok and delivery.kind in (MESSAGE, DUPLICATE)
    )
    end = max((outcome.finished for outcome in outcomes), default=start)
    return {
        "ack": ms([outcome.latency for outcome in ok]),
        "ack_timeline": ms_timeline(
            timetable, [(outcome.due - start, outcome.latency) for outcome in ok]
        ),
        "failures": dict(failures),
        "unacknowledged_ids": len(set(timetable.unique_ids) - acked_ids(timetable, outcomes)),
        "loadgen_lag": ms([outcome.started - outcome.due for outcome in outcomes]),
        "throughput": round(acked_messages / (end - start), 1) if end > start else 0.0,
        "offered_rate": round(
            sum(len(d.message_ids) for d in timetable.deliveries if d.kind != "receipt")
            / max(timetable.span, 1e-9),
            1,
        ),
        "last_answer_after_last_due": round(end - (start + timetable.span), 3),
    }


def acked_ids(timetable: Timetable, outcomes: Sequence[Outcome]) -> set[str]:
    """Message ids with at least one delivery answered 2xx."""
    return {
        message_id
        for delivery, outcome in zip(timetable.deliveries, outcomes, strict=True)
        if outcome.ok
        for message_id in delivery.message_ids
    }


def _first_due(timetable: Timetable, start: float, message_id: str) -> float:
    return start + timetable.first_due[message_id]


def screen_figures(
    timetable: Timetable,
    start: float,
    events: Sequence[Event],
    clients: Mapping[str, ClientInfo],
    facts: Mapping[str, Any],
) -> dict[str, Any]:
    conversations: Mapping[str, Mapping[str, Any]] = facts["conversations"]
    inbound: Mapping[str, Sequence[Any]] = facts["inbound"]
    first_line_event: dict[tuple[int, int], float] = {}
    first_incoming: dict[int, float] = {}
    misdelivered = Counter[str]()
    copies = Counter[tuple[str, str]]()
    receivers: dict[str, set[str]] = defaultdict(set)
    ours = [event for event in events if str(event.conversation) in conversations]
    # Events that name no conversation (contacts, presence, staff-only message notices):
    # counted by type and by role, to see what else each console is sent.
    elsewhere = Counter(
        f"{event.type} to {clients[event.client].role}s"
        for event in events
        if event.conversation is None
    )
    for event in ours:
        client = clients[event.client]
        conversation = conversations[str(event.conversation)]
        copies[(event.client, event.key)] += 1
        receivers[event.key].add(event.client)
        if not entitled(client, event, conversation):
            misdelivered[event.type] += 1
            continue
        if event.type == "message:new" and isinstance(event.data.get("message"), int):
            key = (event.conversation or 0, event.data["message"])
            first_line_event[key] = min(first_line_event.get(key, event.at), event.at)
        if (
            event.type == "conversation:incoming"
            and client.role != SUPERVISOR
            and event.data.get("area") in client.areas
        ):
            conversation_id = event.conversation or 0
            first_incoming[conversation_id] = min(
                first_incoming.get(conversation_id, event.at), event.at
            )
    screen: list[tuple[float, float]] = []  # (due since the start, latency)
    unmatched = 0
    last_seen = 0.0
    for message_id in timetable.unique_ids:
        row = inbound.get(message_id)
        arrived = first_line_event.get((row[2], row[1])) if row else None
        if arrived is None:
            unmatched += 1
            continue
        due = _first_due(timetable, start, message_id)
        screen.append((due - start, arrived - due))
        last_seen = max(last_seen, arrived)
    queue = _queue_latencies(timetable, start, inbound, conversations, first_incoming)
    supervisors = [name for name, client in clients.items() if client.role == SUPERVISOR]
    missed = _missed(ours, receivers, clients, supervisors)
    return {
        "screen": ms([latency for _due, latency in screen]),
        "screen_timeline": ms_timeline(timetable, screen),
        "screen_unmatched": unmatched,
        "queue": ms(queue["latencies"]),
        "queue_unmatched": queue["unmatched"],
        "misdelivered": sum(misdelivered.values()),
        "misdelivered_by_type": dict(misdelivered),
        "redundant_copies": sum(count - 1 for count in copies.values() if count > 1),
        "missed": missed,
        "events": len(events),
        "events_about_scenario": len(ours),
        "events_without_conversation": dict(elsewhere),
        "last_screen_event": last_seen,
    }


def _queue_latencies(
    timetable: Timetable,
    start: float,
    inbound: Mapping[str, Sequence[Any]],
    conversations: Mapping[str, Mapping[str, Any]],
    first_incoming: Mapping[int, float],
) -> dict[str, Any]:
    by_conversation: dict[int, list[tuple[float, str]]] = defaultdict(list)
    for message_id, (received_at, _line, conversation_id) in inbound.items():
        if message_id in timetable.first_due:
            by_conversation[conversation_id].append((received_at, message_id))
    latencies, unmatched = [], 0
    for key, facts in conversations.items():
        handoff = facts.get("handoff_at")
        if handoff is None or facts.get("area") is None:
            continue
        received = sorted(by_conversation.get(int(key), []))
        # The message that made the bot hand over: the last one stored by the hand-off.
        trigger = [message_id for at, message_id in received if at <= handoff + 1e-3]
        arrived = first_incoming.get(int(key))
        if not trigger or arrived is None:
            unmatched += 1
            continue
        latencies.append(arrived - _first_due(timetable, start, trigger[-1]))
    return {"latencies": latencies, "unmatched": unmatched}


def _missed(
    events: Sequence[Event],
    receivers: Mapping[str, set[str]],
    clients: Mapping[str, ClientInfo],
    supervisors: Sequence[str],
) -> dict[str, int]:
    """Deliveries that should have happened: every supervisor gets every conversation event;
    every operator of the area named by a conversation:* event gets it."""
    supervisor_missed = operator_missed = 0
    seen: set[str] = set()
    for event in events:
        if event.key in seen:
            continue
        seen.add(event.key)
        got = receivers[event.key]
        supervisor_missed += sum(1 for name in supervisors if name not in got)
        area = event.data.get("area")
        if event.type in CONVERSATION_TYPES and area is not None:
            operator_missed += sum(
                1
                for name, client in clients.items()
                if client.role != SUPERVISOR and area in client.areas and name not in got
            )
    return {"supervisor": supervisor_missed, "area_operator": operator_missed}


def bot_figures(timetable: Timetable, start: float, facts: Mapping[str, Any]) -> dict[str, Any]:
    conversations: Mapping[str, Mapping[str, Any]] = facts["conversations"]
    first_message: dict[int, tuple[float, str]] = {}
    for message_id, (received_at, _line, conversation_id) in facts["inbound"].items():
        if message_id in timetable.first_due:
            current = first_message.get(conversation_id)
            if current is None or received_at < current[0]:
                first_message[conversation_id] = (received_at, message_id)
    from_db, from_send, missing = [], [], 0
    for key, conversation in conversations.items():
        reply = conversation.get("bot_reply_at")
        first = first_message.get(int(key))
        if first is None:
            continue
        if reply is None:
            missing += 1
            continue
        from_db.append(reply - first[0])
        from_send.append(reply - _first_due(timetable, start, first[1]))
    return {
        "bot_reply_db": ms(from_db),
        "bot_reply_from_send": ms(from_send),
        "needed": len(first_message),
        "queued": len(from_db),
        "missing": missing,
    }


def replies_figures(facts: Mapping[str, Any], last_due: float) -> dict[str, Any]:
    """The bot's replies sent to the gateways: how many, how many were still waiting when
    the database was checked, and seconds from the last scheduled send to the last reply
    sent (None when none was)."""
    replies = facts.get("replies") or {}
    last = replies.get("last_sent_at")
    return {
        "count": replies.get("count", 0),
        "unsent": replies.get("unsent", 0),
        "last_sent_after_s": None if last is None else round(last - last_due, 3),
        "checked_after_s": round(replies.get("checked_at", last_due) - last_due, 3),
    }


def correctness(
    timetable: Timetable,
    facts: Mapping[str, Any],
    acked: set[str],
    screen: Mapping[str, Any] | None,
) -> dict[str, int]:
    """Lost: acknowledged (2xx) but not stored, the loss a gateway cannot repair. Messages
    never acknowledged (503, timeouts) are counted apart: a gateway would retry them, this
    generator does not."""
    counts = facts["counts"]
    unique = set(timetable.unique_ids)
    stored = set(facts["stored_ids"])
    result = {
        "unique_sent": len(unique),
        "stored": len(stored & unique),
        "lost": len(acked - stored),
        "never_acknowledged": len(unique - acked),
        "stored_unacknowledged": len((unique - acked) & stored),
        "duplicated": max(0, int(counts["stored"]) - len(stored)),
    }
    if "lines" in counts:
        result["without_chat_line"] = max(0, int(counts["stored"]) - int(counts["lines"]))
        result["duplicated"] += int(counts["inbound_with_two_lines"]) + int(
            counts["contacts_with_two_conversations"]
        )
    if screen is not None:
        result["misdelivered"] = int(screen["misdelivered"])
        # Each event once to every entitled console: deliveries missing, and extra copies.
        result["missed"] = sum(int(value) for value in screen["missed"].values())
        result["extra_copies"] = int(screen["redundant_copies"])
    return result


def cpu_figures(spent: Mapping[str, float], messages: int) -> dict[str, Any]:
    total = sum(spent.values())
    return {
        "seconds": round(total, 3),
        "per_message_ms": round(total * 1000 / messages, 4) if messages else None,
        "by_process": {label: round(value, 3) for label, value in sorted(spent.items())},
    }
