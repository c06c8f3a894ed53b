"""Response-time metrics of one ticket (pure: its timestamps and `now` in, numbers out).

Times are whole seconds from the ticket's creation. Timestamps come from several systems
(Splynx, Gestión Real, our own clock), so a stamp earlier than the creation counts as zero
rather than as a negative time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class TicketTimes:
    created_at: datetime
    # The first time anyone was given the ticket: reassignments do not restart the clock.
    first_assigned_at: datetime | None = None
    first_response_at: datetime | None = None
    closed_at: datetime | None = None
    is_open: bool = True
    alerts_sent: int = 0


@dataclass(frozen=True)
class TicketMetrics:
    seconds_to_assignment: int | None
    seconds_to_first_response: int | None
    seconds_to_close: int | None
    alerts_sent: int
    # Open, nobody has answered yet, and older than the overdue threshold.
    overdue: bool
    # How long an open ticket has waited for its first response; None once answered or closed.
    waiting_seconds: int | None


def _seconds(start: datetime, end: datetime | None) -> int | None:
    if end is None:
        return None
    return max(0, int((end - start).total_seconds()))


def is_overdue(times: TicketTimes, now: datetime, overdue_after: timedelta) -> bool:
    """The same rule as the API's `overdue` filter: created strictly before now - threshold."""
    waiting = times.is_open and times.first_response_at is None
    return waiting and times.created_at < now - overdue_after


def ticket_metrics(times: TicketTimes, now: datetime, overdue_after: timedelta) -> TicketMetrics:
    waiting = (
        _seconds(times.created_at, now)
        if times.is_open and times.first_response_at is None
        else None
    )
    return TicketMetrics(
        seconds_to_assignment=_seconds(times.created_at, times.first_assigned_at),
        seconds_to_first_response=_seconds(times.created_at, times.first_response_at),
        seconds_to_close=None if times.is_open else _seconds(times.created_at, times.closed_at),
        alerts_sent=max(0, times.alerts_sent),
        overdue=is_overdue(times, now, overdue_after),
        waiting_seconds=waiting,
    )
