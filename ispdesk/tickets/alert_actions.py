"""Alerts and reminders to operators about their tickets, and unassignment after a shift.

The decisions are in `ispdesk.tickets.alerts` (pure); here we load the facts, queue the
WhatsApp messages through `ispdesk.messaging.notifications` and record what was sent, in the
same transaction, so a message is never queued without its record nor recorded unsent.

Which windows gate an alert: the operator's `alert` windows; an operator with none falls back
to their `work` windows (a team that only filled in work shifts is not alerted at night), and
one with neither is always reachable, as `notifications` decides. The jobs calling these run
one at a time (the job lease), and each operator's tickets are locked while recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Max, Q
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from ispdesk.jobs.models import JobSchedule
from ispdesk.jobs.registry import get_job
from ispdesk.jobs.work_hours import load_work_hours, next_opening
from ispdesk.lib.calendar import BusinessCalendar, Window, window_end
from ispdesk.messaging.models import OutboundMessage, Purpose
from ispdesk.messaging.notifications import (
    TicketLine,
    format_waiting,
    notify_operator,
    shift_summary_values,
    ticket_line,
    ticket_list_values,
)
from ispdesk.operators.calendars import business_calendar, windows_by_operator
from ispdesk.operators.models import Operator, ScheduleKind
from ispdesk.realtime.events import send_event_on_commit
from ispdesk.system.audit import record_audit
from ispdesk.system.config import get_config
from ispdesk.tickets.actions import do_auto_assign, do_unassign_ticket
from ispdesk.tickets.alerts import (
    OVERDUE,
    AlertRules,
    DueAlert,
    WatchedTicket,
    alert_due,
    alerts_by_operator,
    left_behind,
    reminder_due,
    shift_ended_at,
)
from ispdesk.tickets.models import EventKind, Status, Ticket, TicketEvent

TEMPLATES = {OVERDUE: "overdue_alert", "pre_alert": "pre_alert"}


def alert_rules() -> AlertRules:
    return AlertRules(
        threshold=timedelta(minutes=get_config("ticket_alert_threshold_minutes")),
        prealert=timedelta(minutes=get_config("ticket_prealert_minutes")),
        renotify=timedelta(minutes=get_config("ticket_renotify_minutes")),
    )


class _Team:
    """Operators with their alert-gating windows and the calendar, loaded once per job run."""

    def __init__(self, operator_ids: Sequence[int], now: datetime) -> None:
        self.operators = {
            operator.pk: operator
            for operator in Operator.objects.select_related("user").filter(pk__in=operator_ids)
        }
        self.work = windows_by_operator(self.operators, ScheduleKind.WORK)
        self.alert = windows_by_operator(self.operators, ScheduleKind.ALERT)
        self.calendar: BusinessCalendar = business_calendar(now)

    def alert_windows(self, operator_id: int) -> list[Window]:
        return self.alert.get(operator_id) or self.work.get(operator_id, [])


# Overdue alerts and pre-alerts -----------------------------------------------------------------


def watched_tickets(
    rules: AlertRules, now: datetime, ticket_ids: list[int] | None = None
) -> list[WatchedTicket]:
    """Open assigned tickets quiet long enough to need some alert, with when each was last
    alerted (only `ticket_ids` when given).

    One row per ticket, aggregated in the database: a ticket alerted every hour for a month
    costs no more to look at than one alerted once.
    """
    alerted = Q(events__kind=EventKind.ALERTED)
    tickets = Ticket.objects.open()
    if ticket_ids is not None:
        tickets = tickets.filter(pk__in=ticket_ids)
    rows = (
        tickets.filter(assignee__isnull=False)
        .annotate(
            last_activity=Coalesce(Max("events__created_at", filter=~alerted), F("created_at")),
            last_alerted=Max("events__created_at", filter=alerted),
        )
        .filter(last_activity__lte=now - rules.prealert_from)
        .values_list("pk", "assignee_id", "last_activity", "last_alerted")
    )
    return [WatchedTicket(*row) for row in rows]


def _alert_text(kind: str, operator: Operator) -> str:
    if kind == OVERDUE:
        return _("Overdue alert sent to %(name)s by WhatsApp") % {"name": operator.name}
    return _("Pre-alert sent to %(name)s by WhatsApp") % {"name": operator.name}


def _send_ticket_alerts(
    operator: Operator,
    kind: str,
    due: list[DueAlert],
    team: _Team,
    now: datetime,
    rules: AlertRules,
) -> list[int] | None:
    """Queue one grouped message of `kind` and record it on each ticket; the ticket ids, or
    None when the operator can't be alerted now (nothing recorded: a later run retries)."""
    quiet = {alert.ticket_id: alert.quiet_for for alert in due}
    with transaction.atomic():
        # Still open and still theirs: a reassignment since we looked is not their problem.
        tickets = {
            ticket.pk: ticket
            for ticket in Ticket.objects.select_for_update()
            .filter(pk__in=list(quiet), assignee=operator)
            .exclude(status=Status.CLOSED)
        }
        # Decided again under the lock: a run that outlived its lease and was taken over by
        # another worker must not send the same alert twice.
        still_due = {
            watched.ticket_id: alert_due(watched, rules, now)
            for watched in watched_tickets(rules, now, ticket_ids=list(tickets))
        }
        ordered = [
            tickets[alert.ticket_id]
            for alert in due
            if alert.ticket_id in tickets
            and (fresh := still_due.get(alert.ticket_id)) is not None
            and fresh.kind == kind
        ]
        if not ordered:
            return []
        lines = [
            TicketLine(
                str(ticket.pk), ticket.subject, format_waiting(quiet[ticket.pk].total_seconds())
            )
            for ticket in ordered
        ]
        ids = [ticket.pk for ticket in ordered]
        outcome = notify_operator(
            operator,
            TEMPLATES[kind],
            ticket_list_values(operator, lines),
            now=now,
            windows=team.alert_windows(operator.pk),
            calendar=team.calendar,
            context={"tickets": ids, "alert": kind},
        )
        if outcome.queued is None:
            return None
        text = _alert_text(kind, operator)
        TicketEvent.objects.bulk_create(
            TicketEvent(
                ticket=ticket, kind=EventKind.ALERTED, created_at=now, operator=operator, text=text
            )
            for ticket in ordered
        )
        if kind == OVERDUE:
            # `alerts_sent` counts overdue alerts (what the metrics report), not pre-alerts.
            Ticket.objects.filter(pk__in=ids).update(alerts_sent=F("alerts_sent") + 1)
        record_audit(
            None,
            f"ticket.{kind}_alert_sent",
            operator,
            after={"tickets": ids, "message": outcome.queued.pk},
        )
        for ticket_id in ids:
            send_event_on_commit(
                [f"ticket.{ticket_id}"], {"type": "ticket:update", "ticket": ticket_id}
            )
    return ids


def do_send_ticket_alerts(now: datetime) -> dict[str, int]:
    """One grouped overdue message and one grouped pre-alert per operator who needs them."""
    rules = alert_rules()
    watched = watched_tickets(rules, now)
    grouped = alerts_by_operator(watched, rules, now)
    counts = {"checked": len(watched), "notified": 0, "tickets": 0, "prealerted": 0, "blocked": 0}
    if not grouped:
        return counts
    team = _Team(list(grouped), now)
    for operator_id, alerts in sorted(grouped.items()):
        operator = team.operators[operator_id]
        notified = False
        for kind, due in ((OVERDUE, alerts.overdue), ("pre_alert", alerts.pre_alert)):
            if not due:
                continue
            sent = _send_ticket_alerts(operator, kind, due, team, now, rules)
            if sent is None:
                counts["blocked"] += 1
                break  # the same block would stop the second message
            if sent:
                notified = True
                counts["tickets" if kind == OVERDUE else "prealerted"] += len(sent)
        counts["notified"] += int(notified)
    return counts


# End-of-shift summaries ------------------------------------------------------------------------


def _summary_sent(operator: Operator, shift_ends: str) -> bool:
    return OutboundMessage.objects.filter(
        purpose=Purpose.OPERATOR_ALERT,
        context__operator=operator.pk,
        context__template="shift_summary",
        context__shift_ends=shift_ends,
    ).exists()


def _summary_job_runs(now: datetime) -> tuple[timedelta, datetime | None]:
    """How often the summary job runs (an admin may have changed it) and when it runs after
    `now`: an interval on, moved into the jobs' work hours (None: not within two weeks)."""
    # Imported here: the jobs module imports this one for the jobs' functions.
    from ispdesk.tickets.jobs import END_OF_SHIFT_NOTIFICATIONS

    job = get_job(END_OF_SHIFT_NOTIFICATIONS)
    assert job is not None  # registered by the import above
    seconds = (
        JobSchedule.objects.filter(name=job.name).values_list("interval_seconds", flat=True).first()
    )
    every = timedelta(seconds=seconds) if seconds else job.interval
    if not job.work_hours_only:
        return every, now + every
    hours = load_work_hours(now)
    return every, next_opening(now + every, hours.hours, hours.holidays, hours.tz)


def do_send_shift_summaries(now: datetime) -> dict[str, int]:
    """Operators whose work shift ends within `shift_reminder_minutes` (or before the job's
    next run, see `reminder_due`) and who still have open tickets get one summary per shift
    (the shift's end is stored with the message)."""
    lead = timedelta(minutes=get_config("shift_reminder_minutes"))
    every, next_run = _summary_job_runs(now)
    with_open = (
        Ticket.objects.open().filter(assignee__isnull=False).values_list("assignee_id", flat=True)
    )
    team = _Team(list(set(with_open)), now)
    counts = {"checked": len(team.operators), "notified": 0, "already_sent": 0, "blocked": 0}
    for operator_id, operator in sorted(team.operators.items()):
        ends = window_end(team.work.get(operator_id, []), team.calendar, now)
        if ends is None or not reminder_due(ends, now, lead, every, next_run):
            continue
        shift_ends = ends.isoformat()
        with transaction.atomic():
            # Serialises with another summary for the same operator (lock operators first).
            Operator.objects.select_for_update().filter(pk=operator_id).first()
            if _summary_sent(operator, shift_ends):
                counts["already_sent"] += 1
                continue
            outcome = notify_operator(
                operator,
                "shift_summary",
                shift_summary_values(operator, now, team.calendar),
                now=now,
                windows=team.alert_windows(operator_id),
                calendar=team.calendar,
                context={"shift_ends": shift_ends},
            )
            if outcome.queued is None:
                counts["blocked"] += 1
                continue
            record_audit(
                None,
                "ticket.shift_summary_sent",
                operator,
                after={"shift_ends": shift_ends, "message": outcome.queued.pk},
            )
            counts["notified"] += 1
    return counts


# Unassignment after a shift ------------------------------------------------------------------


def _unassign_operator(
    operator: Operator, shift_ended: datetime, team: _Team, now: datetime
) -> tuple[int, int, bool]:
    """Give the operator's tickets from before their shift's end back to the engine and tell
    them which; (unassigned, reassigned to someone else, told)."""
    reason = _("The shift of %(name)s ended at %(time)s") % {
        "name": operator.name,
        "time": f"{shift_ended.astimezone(team.calendar.tz):%H:%M}",
    }
    with transaction.atomic():
        # Lock order of ticket actions: the team first, then tickets.
        list(Operator.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
        candidates = (
            Ticket.objects.select_for_update()
            .filter(assignee=operator)
            .exclude(status=Status.CLOSED)
            .order_by("created_at", "pk")
        )
        rows = list(candidates.values_list("pk", "assigned_at"))
        ids = left_behind(rows, shift_ended)
        if not ids:
            return 0, 0, False
        tickets = {ticket.pk: ticket for ticket in Ticket.objects.filter(pk__in=ids)}
        moved: list[Ticket] = []
        reassigned = 0
        for ticket_id in ids:
            ticket = do_unassign_ticket(None, tickets[ticket_id], reason)
            decision = do_auto_assign(None, ticket, now)
            # The engine may hand it straight back (round robin with nobody on shift): then
            # nothing was taken from them and the message doesn't list it.
            if decision.operator_id != operator.pk:
                moved.append(ticket)
                reassigned += int(decision.operator_id is not None)
        told = False
        if moved:
            lines = [ticket_line(ticket, now) for ticket in moved]
            outcome = notify_operator(
                operator,
                "auto_unassign",
                ticket_list_values(operator, lines),
                now=now,
                # Only makes sense right after the shift, which is outside their usual windows.
                force=True,
                calendar=team.calendar,
                context={"tickets": [ticket.pk for ticket in moved]},
            )
            told = outcome.queued is not None
        record_audit(
            None,
            "ticket.unassigned_after_shift",
            operator,
            after={
                "tickets": [ticket.pk for ticket in moved],
                "shift_ended_at": shift_ended.isoformat(),
                "told": told,
            },
        )
    return len(moved), reassigned, told


def do_unassign_after_shift(now: datetime) -> dict[str, int]:
    """Open tickets of operators whose work shift has ended go back to the engine."""
    with_open = (
        Ticket.objects.open().filter(assignee__isnull=False).values_list("assignee_id", flat=True)
    )
    team = _Team(list(set(with_open)), now)
    counts = {"checked": len(team.operators), "unassigned": 0, "reassigned": 0, "notified": 0}
    for operator_id, operator in sorted(team.operators.items()):
        ended = shift_ended_at(team.work.get(operator_id, []), team.calendar, now)
        if ended is None:
            continue
        unassigned, reassigned, told = _unassign_operator(operator, ended, team, now)
        counts["unassigned"] += unassigned
        counts["reassigned"] += reassigned
        counts["notified"] += int(told)
    return counts
