"""One working day of ticket alerts, end to end, with the clock frozen at every moment.

Wednesday 11 March 2026 in Buenos Aires, not a holiday. Ana works 08-16 and takes alerts
only from 09; Juan works 14-22; Pedro works 10-18 but pauses at 10:15 for the rest of the
day. Tickets arrive, are answered, closed, and handed on at shift ends while the scheduler
polls from 07:00 to 23:30 and the simulator carries every message. Each operator's WhatsApp
timeline must be exactly what the rules give, worked out here from the scenario's times:

- a pre-alert once a ticket has been quiet for 30 minutes (threshold 45 - 15), the overdue
  alert at 45, again every 60 while it stays quiet; any update starts a new quiet stretch;
- grouped: one message per operator and kind, listing every ticket due in that run;
- only inside the operator's alert window, and nothing to an operator while paused;
- the shift summary once, in the hour before the shift ends;
- after a shift, its open tickets go back to the engine and the operator is told which.

Running every job of the day again, at the same instants, sends nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.jobs.registry import get_job
from ispdesk.jobs.work_hours import WorkHours
from ispdesk.messaging.models import GatewayKind, OutboundMessage, OutboundStatus
from ispdesk.operators.actions import PauseChange, do_set_pause
from ispdesk.operators.models import Operator, ScheduleKind
from ispdesk.operators.tests.conftest import make_operator
from ispdesk.system.actions import do_set_config
from ispdesk.system.config import clear_config_cache
from ispdesk.tickets.actions import (
    NewTicket,
    do_change_status,
    do_close_ticket,
    do_comment_ticket,
    do_create_ticket,
)
from ispdesk.tickets.jobs import (
    ASSIGN_UNASSIGNED,
    AUTO_UNASSIGN_AFTER_SHIFT,
    END_OF_SHIFT_NOTIFICATIONS,
    OVERDUE_ALERTS,
)
from ispdesk.tickets.models import EventKind, Status, Ticket, TicketEvent
from ispdesk.tickets.tests.alert_day_support import (
    Action,
    FrozenClock,
    Notice,
    clock_fixture,  # noqa: F401 - the `clock` fixture
    hhmm,
    notice,
    run_day,
    runs_at,
    timeline,
)
from ispdesk.tickets.tests.alerts_support import (
    ANA_PHONE,
    JUAN_PHONE,
    ana_fixture,  # noqa: F401 - the `ana` fixture
    at,
    gateway_fixture,  # noqa: F401 - the `gateway` fixture
    juan_fixture,  # noqa: F401 - the `juan` fixture
    spanish_in_buenos_aires_fixture,  # noqa: F401 - autouse
    windows,
)

PEDRO_PHONE = "+5491155550003"
WEEKDAYS = range(5)

THRESHOLD = timedelta(minutes=45)
PRE_ALERT = timedelta(minutes=30)  # 15 minutes before the threshold
RENOTIFY = timedelta(minutes=60)
SUMMARY_LEAD = timedelta(minutes=60)

OVERDUE = "overdue_alert"
PRE = "pre_alert"
SUMMARY = "shift_summary"
UNASSIGN = "auto_unassign"

# The ticket jobs. The others are switched off: the chat jobs and the Splynx and Gestión
# Real syncs have nothing to do on this desk (no chats, no external systems), and the ticket
# flow's assignment notices have their own end-to-end test (`test_pipeline_e2e`); running
# them at every poll would only make the day slower.
DAY_JOBS = (
    ASSIGN_UNASSIGNED,
    OVERDUE_ALERTS,
    END_OF_SHIFT_NOTIFICATIONS,
    AUTO_UNASSIGN_AFTER_SHIFT,
)


def hm(hour: int, minute: int = 0) -> datetime:
    """A moment of the day: Wednesday 11 March 2026, Buenos Aires."""
    return at(11, hour, minute)


DAY_START, DAY_END = hm(7), hm(23, 30)
# Alerts and summaries run only inside the jobs' work hours (weekdays from 08:00).
JOBS_OPEN = hm(WorkHours().weekday[0])
ANA_SHIFT_END, JUAN_SHIFT_END, PEDRO_SHIFT_END = hm(16), hm(22), hm(18)
ANA_ALERTS, JUAN_ALERTS = (hm(9), hm(16)), (hm(14), hm(22))


def alert_run(due: datetime) -> datetime:
    """The overdue-alert job's first run at or after `due`."""
    return runs_at(OVERDUE_ALERTS, due, JOBS_OPEN)


def summary_run(shift_end: datetime) -> datetime:
    return runs_at(END_OF_SHIFT_NOTIFICATIONS, shift_end - SUMMARY_LEAD, JOBS_OPEN)


def unassign_run(shift_end: datetime) -> datetime:
    """The unassignment job's first run after the shift ended (it runs at any hour)."""
    return runs_at(AUTO_UNASSIGN_AFTER_SHIFT, shift_end, DAY_START)


def repeated(first: datetime, until: datetime) -> list[datetime]:
    """The overdue alert at `first` and its repeats every RENOTIFY before `until`."""
    runs = [first]
    while (following := alert_run(runs[-1] + RENOTIFY)) < until:
        runs.append(following)
    return runs


# The desk ---------------------------------------------------------------------------------------


@dataclass
class Desk:
    ana: Operator
    juan: Operator
    pedro: Operator
    tickets: dict[str, Ticket] = field(default_factory=dict)

    def ticket(self, label: str) -> Ticket:
        ticket = self.tickets[label]
        ticket.refresh_from_db()
        return ticket

    @property
    def labels(self) -> dict[int, str]:
        return {ticket.pk: label for label, ticket in self.tickets.items()}

    # What people do, as actions for `run_day`.

    def arrives(self, label: str, subject: str) -> Action:
        """A ticket comes in and the engine gives it to someone."""

        def action() -> None:
            new = NewTicket(subject=subject, external_id=f"day-{label}")
            self.tickets[label], _created = do_create_ticket(None, new)

        return action

    def comments(self, operator: Operator, label: str, text: str) -> Action:
        return lambda: do_comment_ticket(operator.user, self.ticket(label), text)

    def sets_status(self, operator: Operator, label: str, status: str) -> Action:
        return lambda: do_change_status(operator.user, self.ticket(label), status)

    def closes(self, operator: Operator, label: str) -> Action:
        return lambda: do_close_ticket(operator.user, self.ticket(label))

    def pauses(self, operator: Operator) -> Action:
        return lambda: do_set_pause(operator.user, operator, PauseChange("full", True))


@pytest.fixture(name="desk")
def desk_fixture(gateway: Any, ana: Operator, juan: Operator, admin: Any) -> Desk:
    do_set_config(
        admin,
        {
            "ticket_alert_threshold_minutes": 45,
            "ticket_prealert_minutes": 15,
            "ticket_renotify_minutes": 60,
            "shift_reminder_minutes": 60,
            "assignment_round_robin_fallback": True,
        },
    )
    clear_config_cache()
    pedro = make_operator("pedro", "Pedro", whatsapp="+54 9 11 5555-0003")
    for operator, start, end in ((ana, 8, 16), (juan, 14, 22), (pedro, 10, 18)):
        windows(operator, ScheduleKind.WORK, start, end, WEEKDAYS)
        windows(operator, ScheduleKind.ASSIGNMENT, start, end, WEEKDAYS)
    # Ana goes through her queue on her own in her first hour. Juan and Pedro have no alert
    # windows: their work shifts bound their alerts.
    windows(ana, ScheduleKind.ALERT, 9, 16, WEEKDAYS)
    return Desk(ana, juan, pedro)


def the_day(desk: Desk) -> dict[datetime, list[Action]]:
    ana, juan, pedro = desk.ana, desk.juan, desk.pedro
    return {
        # Only Ana is on shift: both morning tickets are hers.
        hm(8, 10): [desk.arrives("A1", "Sin señal en Villa Crespo")],
        hm(8, 12): [desk.arrives("A2", "Router reinicia solo")],
        hm(9, 20): [desk.comments(ana, "A2", "Reinicié el router de forma remota")],
        # Pedro has no open tickets, Ana has two: the engine gives him both.
        hm(10, 2): [desk.arrives("P1", "Corte de fibra en Almagro")],
        hm(10, 4): [desk.arrives("P2", "Fibra cortada en Boedo")],
        hm(10, 15): [desk.pauses(pedro)],
        hm(10, 40): [desk.closes(ana, "A1")],
        hm(11, 30): [
            desk.sets_status(ana, "A2", Status.WAITING),
            desk.arrives("A3", "Cambio de plan"),
        ],
        # Juan has fewer open tickets than Ana: both afternoon tickets are his.
        hm(14, 30): [desk.arrives("J1", "Sin internet en Caballito")],
        hm(14, 50): [desk.arrives("J2", "Lentitud por las noches")],
        hm(15, 10): [desk.closes(juan, "J1")],
        hm(17, 0): [desk.closes(juan, "J2")],
        hm(17, 30): [
            desk.closes(juan, "A2"),
            desk.comments(juan, "A3", "El cliente pide el cambio para el mes próximo"),
        ],
        hm(19, 30): [desk.closes(juan, "A3")],
        hm(20, 30): [desk.closes(juan, "P2")],
    }


# What each phone must receive -----------------------------------------------------------------


def anas_day() -> list[Notice]:
    # Her alert window opens at 09:00, when both morning tickets have passed 45 minutes (at
    # 08:55 and 08:57): the pre-alerts held back by the window are not sent late.
    first = alert_run(max(hm(8, 12) + THRESHOLD, ANA_ALERTS[0]))
    # A2 was answered at 09:20: a new quiet stretch, with its own pre-alert and alerts.
    a2_first = alert_run(hm(9, 20) + THRESHOLD)
    # From 11:30 A2 (set to waiting) and A3 (new) are quiet together: alerted together,
    # until her alert window closes at 16:00.
    pair = repeated(alert_run(hm(11, 30) + THRESHOLD), ANA_ALERTS[1])
    expected = [
        notice(first, OVERDUE, "A1", "A2"),
        notice(alert_run(hm(9, 20) + PRE_ALERT), PRE, "A2"),
        notice(alert_run(first + RENOTIFY), OVERDUE, "A1"),  # A1 is closed at 10:40
        notice(a2_first, OVERDUE, "A2"),
        notice(alert_run(a2_first + RENOTIFY), OVERDUE, "A2"),  # A2 is updated at 11:30
        notice(alert_run(hm(11, 30) + PRE_ALERT), PRE, "A2", "A3"),
        *(notice(run, OVERDUE, "A2", "A3") for run in pair),
        notice(summary_run(ANA_SHIFT_END), SUMMARY),
        # Told though her alert window has closed.
        notice(unassign_run(ANA_SHIFT_END), UNASSIGN, "A2", "A3"),
    ]
    return sorted(expected, key=lambda item: item.at)


def juans_day() -> list[Notice]:
    from_ana, from_pedro = unassign_run(ANA_SHIFT_END), unassign_run(PEDRO_SHIFT_END)
    j2_first = alert_run(hm(14, 50) + THRESHOLD)
    a3_first = alert_run(hm(17, 30) + THRESHOLD)  # Juan answered A3 at 17:30
    pedros = repeated(alert_run(from_pedro + THRESHOLD), JUAN_ALERTS[1])
    expected = [
        notice(alert_run(hm(14, 30) + PRE_ALERT), PRE, "J1"),  # J1 is closed at 15:10
        notice(alert_run(hm(14, 50) + PRE_ALERT), PRE, "J2"),
        notice(j2_first, OVERDUE, "J2"),
        notice(alert_run(j2_first + RENOTIFY), OVERDUE, "J2"),  # J2 is closed at 17:00
        # Ana's A2 and A3, his since her shift ended.
        notice(alert_run(from_ana + PRE_ALERT), PRE, "A2", "A3"),
        notice(alert_run(from_ana + THRESHOLD), OVERDUE, "A2", "A3"),  # A2 closed at 17:30
        notice(alert_run(hm(17, 30) + PRE_ALERT), PRE, "A3"),
        notice(a3_first, OVERDUE, "A3"),
        notice(alert_run(a3_first + RENOTIFY), OVERDUE, "A3"),  # A3 is closed at 19:30
        # Pedro's P1 and P2, his since Pedro's shift ended.
        notice(alert_run(from_pedro + PRE_ALERT), PRE, "P1", "P2"),
        *(notice(run, OVERDUE, "P1", "P2") for run in pedros if run < hm(20, 30)),
        *(notice(run, OVERDUE, "P1") for run in pedros if run > hm(20, 30)),  # P2 closed
        notice(summary_run(JUAN_SHIFT_END), SUMMARY),
        notice(unassign_run(JUAN_SHIFT_END), UNASSIGN, "P1"),
    ]
    return sorted(expected, key=lambda item: item.at)


# Checks of the day ------------------------------------------------------------------------------


def minute_of(notice_: Notice) -> datetime:
    hour, minute = notice_.at.split(":")
    return hm(int(hour), int(minute))


def assert_inside_alert_windows(
    phone: str, labels: dict[int, str], window: tuple[datetime, datetime]
) -> None:
    """Everything but the unassignment notice waits for the operator's alert window."""
    windowed = [item for item in timeline(phone, labels) if item.template != UNASSIGN]
    outside = [item for item in windowed if not window[0] <= minute_of(item) < window[1]]
    assert windowed and not outside, outside


def assert_no_ticket_alerted_twice_within_renotify(phone: str, labels: dict[int, str]) -> None:
    last: dict[str, datetime] = {}
    for item in timeline(phone, labels):
        if item.template != OVERDUE:
            continue
        for label in item.tickets:
            if label in last:
                assert minute_of(item) - last[label] >= RENOTIFY, (phone, label, item.at)
            last[label] = minute_of(item)


def assert_everything_left_through_the_simulator_at_once() -> None:
    messages = list(OutboundMessage.objects.select_related("connection"))
    assert messages
    for message in messages:
        assert message.connection.kind == GatewayKind.SIMULATOR
        assert message.status == OutboundStatus.SENT
        assert (message.provider_id or "").startswith("sim-")
        assert message.sent_at == message.created_at  # queued and sent in the same poll


def assert_summaries_count_what_is_open(desk: Desk) -> None:
    ana_summary = OutboundMessage.objects.get(to=ANA_PHONE, context__template=SUMMARY)
    # 15:00: A2 and A3 open, A1 closed at 10:40; A3 has had no answer for over an hour.
    for line in ("Abiertos: 2", "Cerrados hoy: 1", "Vencidos: 1"):
        assert line in ana_summary.body
    assert ana_summary.context["shift_ends"] == ANA_SHIFT_END.isoformat()
    juan_summary = OutboundMessage.objects.get(to=JUAN_PHONE, context__template=SUMMARY)
    # 21:00: only P1 open, never answered; J1, J2, A2, A3 and P2 closed today.
    for line in ("Abiertos: 1", "Cerrados hoy: 5", "Vencidos: 1"):
        assert line in juan_summary.body
    assert juan_summary.context["shift_ends"] == JUAN_SHIFT_END.isoformat()


def handovers(desk: Desk, label: str) -> list[tuple[str, str, str]]:
    """(minute, kind, operator) of each assignment and unassignment of the ticket."""
    events = TicketEvent.objects.filter(
        ticket=desk.tickets[label],
        kind__in=[EventKind.ASSIGNED, EventKind.REASSIGNED, EventKind.UNASSIGNED],
    ).select_related("operator__user", "previous_operator__user")
    return [
        (hhmm(event.created_at), event.kind, who.user.first_name)
        for event in events
        if (who := event.operator or event.previous_operator) is not None
    ]


def assert_left_tickets_went_to_whoever_was_on_shift(desk: Desk) -> None:
    from_ana, from_pedro = hhmm(unassign_run(ANA_SHIFT_END)), hhmm(unassign_run(PEDRO_SHIFT_END))
    from_juan = hhmm(unassign_run(JUAN_SHIFT_END))
    assert handovers(desk, "A3") == [
        ("11:30", EventKind.ASSIGNED, "Ana"),
        (from_ana, EventKind.UNASSIGNED, "Ana"),
        (from_ana, EventKind.ASSIGNED, "Juan"),
    ]
    for label, arrived in (("P1", "10:02"), ("P2", "10:04")):
        # Paused, Pedro keeps his tickets until his shift ends; then Juan, on shift, has them.
        assert handovers(desk, label)[:3] == [
            (arrived, EventKind.ASSIGNED, "Pedro"),
            (from_pedro, EventKind.UNASSIGNED, "Pedro"),
            (from_pedro, EventKind.ASSIGNED, "Juan"),
        ]
    # After 22:00 nobody is on shift: the round robin gives P1 to Ana, the least recently
    # assigned. Given to her after her shift, it stays hers until the morning.
    assert handovers(desk, "P1")[3:] == [
        (from_juan, EventKind.UNASSIGNED, "Juan"),
        (from_juan, EventKind.ASSIGNED, "Ana"),
    ]
    p1 = desk.ticket("P1")
    assert (p1.assignee, p1.status) == (desk.ana, Status.ASSIGNED)
    assert list(Ticket.objects.open()) == [p1]
    # The unassignment notice names each ticket taken from the operator.
    told = OutboundMessage.objects.get(to=ANA_PHONE, context__template=UNASSIGN)
    for label in ("A2", "A3"):
        assert f"#{desk.tickets[label].pk} {desk.tickets[label].subject}" in told.body


def runs_by_name(runs: list[JobRun]) -> dict[str, list[str]]:
    """The minutes at which each job started."""
    names = dict(JobSchedule.objects.values_list("pk", "name"))
    started: dict[str, list[str]] = {}
    for run in runs:
        started.setdefault(names[run.schedule_id], []).append(hhmm(run.started_at))
    return started


def assert_jobs_kept_their_rhythm_and_hours(day: list[JobRun]) -> None:
    assert [run for run in day if run.outcome != JobRun.Outcome.OK] == []
    started = runs_by_name(day)
    assert set(started) == set(DAY_JOBS)
    # Alerts every three minutes and summaries hourly, inside the jobs' work hours (08-23).
    alerts = started[OVERDUE_ALERTS]
    assert (alerts[0], alerts[-1], len(alerts)) == ("08:00", "22:57", 15 * 20)
    closes = hm(WorkHours().weekday[1])
    for name in (OVERDUE_ALERTS, END_OF_SHIFT_NOTIFICATIONS):
        assert started[name] == grid(name, JOBS_OPEN, closes - timedelta(seconds=1))
    # Every forty minutes from the first poll, at any hour.
    assert started[AUTO_UNASSIGN_AFTER_SHIFT] == grid(AUTO_UNASSIGN_AFTER_SHIFT, DAY_START, DAY_END)


def grid(name: str, first: datetime, last: datetime) -> list[str]:
    """The minutes job `name` runs at between `first` and `last`, every interval from
    `first`."""
    job = get_job(name)
    assert job is not None
    slots = (first + job.interval * step for step in range((last - first) // job.interval + 1))
    return [hhmm(runs_at(name, slot, first)) for slot in slots]


# The day ---------------------------------------------------------------------------------------


def test_a_working_day_reaches_each_operator_on_time_grouped_and_once(
    desk: Desk, clock: FrozenClock
) -> None:
    day = run_day(clock, DAY_START, DAY_END, DAY_JOBS, the_day(desk))

    labels = desk.labels
    assert timeline(ANA_PHONE, labels) == anas_day()
    assert timeline(JUAN_PHONE, labels) == juans_day()
    # Pedro paused at 10:15 with two tickets that went overdue: no alert, no summary, no
    # word of their unassignment when his shift ended.
    assert timeline(PEDRO_PHONE, labels) == []
    sent = OutboundMessage.objects.count()
    assert sent == len(anas_day() + juans_day())
    for phone, window in ((ANA_PHONE, ANA_ALERTS), (JUAN_PHONE, JUAN_ALERTS)):
        assert_inside_alert_windows(phone, labels, window)
        assert_no_ticket_alerted_twice_within_renotify(phone, labels)
    assert_everything_left_through_the_simulator_at_once()
    assert_summaries_count_what_is_open(desk)
    assert_left_tickets_went_to_whoever_was_on_shift(desk)
    assert_jobs_kept_their_rhythm_and_hours(day)

    # Every job of the day again, at the same instants (the day's people don't act twice).
    history = TicketEvent.objects.count()
    again = run_day(clock, DAY_START, DAY_END, DAY_JOBS)

    assert runs_by_name(again) == runs_by_name(day)
    assert [run for run in again if run.outcome != JobRun.Outcome.OK] == []
    assert OutboundMessage.objects.count() == sent
    assert TicketEvent.objects.count() == history
