"""Which tickets to alert operators about, and whose shift is ending or over (pure).

A ticket is *quiet* since its last activity: the newest history event that is not itself an
alert (created, assigned, a status change, a comment, a sync…). Alerts are history events
too (kind `alerted`), and they are how a ticket remembers being alerted:

- **pre-alert**: quiet for at least `threshold - prealert` but not yet `threshold`, and no
  alert since the last activity — so at most one per quiet stretch;
- **overdue**: quiet for at least `threshold`, and no overdue alert since the last activity,
  or the newest one is at least `renotify` old.

An alert sent after the ticket had been quiet for `threshold` or more is an overdue alert;
an earlier one was a pre-alert. Classifying by timing needs no extra column, and any activity
on the ticket starts a new quiet stretch with a clean slate. The newest alert alone tells
whether any came since the last activity and when the last overdue one went (an older one
can't be overdue if the newest isn't), so it is all a ticket carries here.

Everything here takes `now` and plain values; nothing reads the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ispdesk.lib.calendar import BusinessCalendar, Window, intervals_on, is_available

OVERDUE = "overdue"
PRE_ALERT = "pre_alert"
# How far back to look for the end of an operator's last shift: a whole week and a day.
SHIFT_LOOKBACK_DAYS = 8


@dataclass(frozen=True)
class AlertRules:
    threshold: timedelta
    # How long before the threshold the pre-alert goes; zero turns pre-alerts off.
    prealert: timedelta
    renotify: timedelta

    @property
    def prealert_from(self) -> timedelta:
        return max(timedelta(0), self.threshold - self.prealert)


@dataclass(frozen=True)
class WatchedTicket:
    ticket_id: int
    operator_id: int
    last_activity_at: datetime
    # When the ticket was last alerted (either kind); before the last activity it doesn't count.
    last_alerted_at: datetime | None = None


@dataclass(frozen=True)
class DueAlert:
    ticket_id: int
    kind: str
    quiet_for: timedelta


@dataclass
class OperatorAlerts:
    overdue: list[DueAlert] = field(default_factory=list)
    pre_alert: list[DueAlert] = field(default_factory=list)


def alert_due(ticket: WatchedTicket, rules: AlertRules, now: datetime) -> DueAlert | None:
    """The alert this ticket needs now, or None."""
    quiet_for = now - ticket.last_activity_at
    alerted = ticket.last_alerted_at
    if alerted is not None and alerted < ticket.last_activity_at:
        alerted = None  # from an earlier quiet stretch
    if quiet_for >= rules.threshold:
        # A newest alert sent before the threshold was a pre-alert: no overdue alert yet.
        if (
            alerted is None
            or alerted - ticket.last_activity_at < rules.threshold
            or now - alerted >= rules.renotify
        ):
            return DueAlert(ticket.ticket_id, OVERDUE, quiet_for)
        return None
    if rules.prealert > timedelta(0) and quiet_for >= rules.prealert_from and alerted is None:
        return DueAlert(ticket.ticket_id, PRE_ALERT, quiet_for)
    return None


def alerts_by_operator(
    tickets: Iterable[WatchedTicket], rules: AlertRules, now: datetime
) -> dict[int, OperatorAlerts]:
    """Due alerts grouped per operator, the longest-quiet ticket first in each list."""
    grouped: dict[int, OperatorAlerts] = {}
    for ticket in tickets:
        due = alert_due(ticket, rules, now)
        if due is None:
            continue
        alerts = grouped.setdefault(ticket.operator_id, OperatorAlerts())
        (alerts.overdue if due.kind == OVERDUE else alerts.pre_alert).append(due)
    for alerts in grouped.values():
        for due_list in (alerts.overdue, alerts.pre_alert):
            due_list.sort(key=lambda due: (-due.quiet_for, due.ticket_id))
    return grouped


# Shifts ----------------------------------------------------------------------------------------


def reminder_due(
    shift_ends: datetime | None,
    now: datetime,
    lead: timedelta,
    every: timedelta,
    next_run: datetime | None,
) -> bool:
    """Whether the summary job's run at `now` should remind of a shift ending at `shift_ends`
    (None: not on shift); the job runs every `every`, and next at `next_run` (later than
    `now + every` when the jobs' work hours close in between; None: not within two weeks).

    Due from `lead` before the end until the end. A run whose next run falls after the end
    (a 30-minute lead with hourly runs; the work hours closing) is the last chance and is
    due too, unless it is more than one interval ahead of the lead: a reminder hours early
    is no reminder. So an hourly job finds each end due in exactly one run for any lead up
    to an hour, and in every run of a longer lead; the caller sends once per shift end.
    """
    if shift_ends is None or now >= shift_ends:
        return False
    lead_starts = shift_ends - lead
    if now >= lead_starts:
        return True
    last_run_before_end = next_run is None or next_run >= shift_ends
    return last_run_before_end and now + every >= lead_starts


def shift_ended_at(
    windows: Sequence[Window], calendar: BusinessCalendar, now: datetime
) -> datetime | None:
    """When the operator's last work shift ended, if they are off shift now.

    None when they are on shift, or have no work windows at all (no shift can end), or none
    ended in the last week.
    """
    if not windows or is_available(windows, calendar, now):
        return None
    local = now.astimezone(calendar.tz)
    ends = [
        interval.end
        for offset in range(SHIFT_LOOKBACK_DAYS + 1)
        for interval in intervals_on(
            windows,
            calendar,
            local.date() - timedelta(days=offset),
            observe_holidays=False,
        )
        if interval.end <= local
    ]
    return max(ends) if ends else None


def left_behind(tickets: Iterable[tuple[int, datetime | None]], shift_ended: datetime) -> list[int]:
    """Tickets (id, assigned_at) given to the operator before their shift ended.

    A ticket given to them after the end (by hand, or by the engine's round robin when nobody
    was on shift) was given knowingly, so it stays.
    """
    return [
        ticket_id
        for ticket_id, assigned_at in tickets
        if assigned_at is None or assigned_at <= shift_ended
    ]
