"""The fair-assignment engine for tickets (pure: facts in, a decision with its reason out).

Rules, in order (each can be switched off in the rules):
1. on a weekend or holiday, the on-duty operator(s) of the day;
2. a shift tag in the ticket text (`[TT]`, `[TD]`, ...) chooses that tag's group (its
   members on schedule; with none on schedule the ordinary rules apply);
3. candidates are active operators whose assignment window covers now, not paused and not
   assignment-paused;
4. the fewest *current open* tickets wins, then the least recently assigned, then a stable
   order;
5. nobody on schedule: round robin (least recently assigned) over active, unpaused operators;
   nobody at all: no decision, the ticket waits in the unassigned queue.
The engine never picks a paused, assignment-paused or inactive operator.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from django.utils.translation import gettext as _
from django.utils.translation import ngettext


class Rule(StrEnum):
    ON_DUTY = "on_duty"
    SHIFT_TAG = "shift_tag"
    SCHEDULE = "schedule"
    ROUND_ROBIN = "round_robin"
    NONE = "none"


@dataclass(frozen=True)
class Candidate:
    operator_id: int
    name: str
    active: bool = True
    paused: bool = False
    assignment_paused: bool = False
    on_schedule: bool = True
    open_tickets: int = 0
    last_assigned_at: datetime | None = None

    @property
    def eligible(self) -> bool:
        """May receive new work at all (schedule aside)."""
        return self.active and not self.paused and not self.assignment_paused


@dataclass(frozen=True)
class Rules:
    is_day_off: bool = False  # weekend or holiday in the business calendar
    on_duty: frozenset[int] = frozenset()
    shift_tags: Mapping[str, frozenset[int]] = field(default_factory=dict)
    use_on_duty: bool = True
    use_shift_tags: bool = True
    round_robin_fallback: bool = True


@dataclass(frozen=True)
class Decision:
    operator_id: int | None
    rule: Rule
    reason: str


def find_shift_tag(text: str, tags: Iterable[str]) -> str | None:
    """The first configured tag present in the text (case-insensitive), by position."""
    lowered = text.lower()
    found = [(lowered.find(tag.lower()), tag) for tag in tags if tag and tag.lower() in lowered]
    return min(found)[1] if found else None


def _load_key(candidate: Candidate) -> tuple[int, float, int]:
    last = candidate.last_assigned_at.timestamp() if candidate.last_assigned_at else float("-inf")
    return (candidate.open_tickets, last, candidate.operator_id)


def _round_robin_key(candidate: Candidate) -> tuple[float, int, int]:
    last = candidate.last_assigned_at.timestamp() if candidate.last_assigned_at else float("-inf")
    return (last, candidate.open_tickets, candidate.operator_id)


def _names(pool: Sequence[Candidate]) -> str:
    return ", ".join(candidate.name for candidate in sorted(pool, key=lambda c: c.name))


def _open_count(candidate: Candidate) -> str:
    return ngettext("%(n)d open ticket", "%(n)d open tickets", candidate.open_tickets) % {
        "n": candidate.open_tickets
    }


def _fewest(pool: Sequence[Candidate], rule: Rule, among: str) -> Decision:
    chosen = min(pool, key=_load_key)
    if len(pool) == 1:
        reason = _("%(name)s: %(count)s, the only one %(among)s") % {
            "name": chosen.name,
            "count": _open_count(chosen),
            "among": among,
        }
    else:
        tied = [c for c in pool if c.open_tickets == chosen.open_tickets]
        tie = _(", least recently assigned among the tied") if len(tied) > 1 else ""
        reason = _("%(name)s: %(count)s, fewest among %(names)s %(among)s%(tie)s") % {
            "name": chosen.name,
            "count": _open_count(chosen),
            "names": _names(pool),
            "among": among,
            "tie": tie,
        }
    return Decision(chosen.operator_id, rule, reason)


def decide(text: str, candidates: Sequence[Candidate], rules: Rules) -> Decision:
    """Choose who gets a new ticket, and say why."""
    eligible = [c for c in candidates if c.eligible]

    if rules.use_on_duty and rules.is_day_off and rules.on_duty:
        on_duty = [c for c in eligible if c.operator_id in rules.on_duty]
        if on_duty:
            return _fewest(on_duty, Rule.ON_DUTY, _("on duty today"))

    if rules.use_shift_tags and rules.shift_tags:
        tag = find_shift_tag(text, rules.shift_tags)
        if tag is not None:
            group = [c for c in eligible if c.operator_id in rules.shift_tags[tag]]
            # Only members on schedule: the tag never sends work to someone off shift.
            on_schedule = [c for c in group if c.on_schedule]
            if on_schedule:
                among = _("of the %(tag)s group") % {"tag": tag}
                return _fewest(on_schedule, Rule.SHIFT_TAG, among)

    scheduled = [c for c in eligible if c.on_schedule]
    if scheduled:
        return _fewest(scheduled, Rule.SCHEDULE, _("on the assignment schedule"))

    if rules.round_robin_fallback and eligible:
        chosen = min(eligible, key=_round_robin_key)
        reason = _(
            "%(name)s: nobody is on the assignment schedule; round robin among %(names)s"
        ) % {"name": chosen.name, "names": _names(eligible)}
        return Decision(chosen.operator_id, Rule.ROUND_ROBIN, reason)

    return Decision(None, Rule.NONE, _("Nobody can take tickets now; it waits in the queue"))
