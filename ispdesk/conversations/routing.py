"""Which operator takes a chat: pure, with the reason in words.

Eligible: active, online in the console, not away, not paused or assignment-paused, on an
assignment or work window now, a member of the chat's area (any operator for the general
queue), under their chat capacity. Among them the fewest active chats wins; ties go to the
one who got a chat least recently (never first), then a stable order by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ChatCandidate:
    operator_id: int
    name: str
    online: bool
    away: bool
    paused: bool
    on_window: bool
    open_chats: int
    capacity: int
    last_chat_assigned_at: datetime | None = None

    @property
    def has_room(self) -> bool:
        return self.open_chats < self.capacity

    @property
    def eligible(self) -> bool:
        return (
            self.online and not self.away and not self.paused and self.on_window and self.has_room
        )


@dataclass(frozen=True)
class RouteDecision:
    operator_id: int | None
    reason: str


def _order(candidate: ChatCandidate) -> tuple[int, datetime, int]:
    return (
        candidate.open_chats,
        candidate.last_chat_assigned_at or NEVER,
        candidate.operator_id,
    )


def choose_operator(candidates: Sequence[ChatCandidate]) -> RouteDecision:
    eligible = sorted((c for c in candidates if c.eligible), key=_order)
    if not eligible:
        return RouteDecision(None, _("Nobody in the area is online, on shift and with room."))
    chosen = eligible[0]
    names = ", ".join(candidate.name for candidate in eligible)
    return RouteDecision(
        chosen.operator_id,
        ngettext(
            "%(name)s: %(count)d active chat, fewest among %(names)s",
            "%(name)s: %(count)d active chats, fewest among %(names)s",
            chosen.open_chats,
        )
        % {"name": chosen.name, "count": chosen.open_chats, "names": names},
    )


def assign_in_order(
    waiting: Sequence[int], candidates: Sequence[ChatCandidate], now: datetime
) -> list[tuple[int, RouteDecision]]:
    """Give queued chats (oldest first) to operators while anyone has room. Loads grow as
    chats are handed out, and whoever was just served goes behind equals, so one drain
    never overfills anybody and spreads the queue fairly."""
    pool = {candidate.operator_id: candidate for candidate in candidates}
    results: list[tuple[int, RouteDecision]] = []
    for turn, conversation_id in enumerate(waiting):
        decision = choose_operator(list(pool.values()))
        if decision.operator_id is None:
            break
        results.append((conversation_id, decision))
        chosen = pool[decision.operator_id]
        pool[decision.operator_id] = replace(
            chosen,
            open_chats=chosen.open_chats + 1,
            last_chat_assigned_at=now + timedelta(microseconds=turn),
        )
    return results
