"""Which tickets need an alert, and whose shift is ending or over (pure, time passed in)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ispdesk.lib.calendar import BusinessCalendar, Window
from ispdesk.tickets.alerts import (
    OVERDUE,
    PRE_ALERT,
    AlertRules,
    WatchedTicket,
    alert_due,
    alerts_by_operator,
    left_behind,
    reminder_due,
    shift_ended_at,
)

BA = ZoneInfo("America/Argentina/Buenos_Aires")
CALENDAR = BusinessCalendar(tz=BA)
RULES = AlertRules(
    threshold=timedelta(minutes=45),
    prealert=timedelta(minutes=15),
    renotify=timedelta(minutes=60),
)
# Wednesday 11 March 2026, ten in the morning in Buenos Aires.
START = datetime(2026, 3, 11, 10, 0, tzinfo=BA)


def minutes(n: float) -> datetime:
    return START + timedelta(minutes=n)


def ticket(*alerted: float, ticket_id: int = 1, operator: int = 7) -> WatchedTicket:
    """A ticket last touched at START and alerted at the given minutes after it (of which
    it keeps the newest, as the database gives it)."""
    last = minutes(max(alerted)) if alerted else None
    return WatchedTicket(ticket_id, operator, START, last)


def kind(watched: WatchedTicket, at: float) -> str | None:
    due = alert_due(watched, RULES, minutes(at))
    return due.kind if due else None


@pytest.mark.parametrize(
    ("at", "expected"),
    [(29, None), (30, PRE_ALERT), (44, PRE_ALERT), (45, OVERDUE), (300, OVERDUE)],
)
def test_a_quiet_ticket_is_pre_alerted_then_overdue(at, expected):
    assert kind(ticket(), at) == expected


def test_it_pre_alerts_once_per_quiet_stretch():
    assert kind(ticket(30), 33) is None
    assert kind(ticket(30), 44) is None
    # The pre-alert doesn't count as the overdue alert.
    assert kind(ticket(30), 45) == OVERDUE


def test_it_repeats_an_overdue_alert_only_after_the_renotify_interval():
    assert kind(ticket(30, 45), 48) is None
    assert kind(ticket(30, 45), 104) is None
    assert kind(ticket(30, 45), 105) == OVERDUE
    assert kind(ticket(30, 45, 105), 150) is None
    assert kind(ticket(30, 45, 105), 165) == OVERDUE


def test_an_update_starts_a_new_quiet_stretch():
    # Alerted before the last activity: forgotten; the ticket starts over.
    touched = WatchedTicket(1, 7, minutes(100), minutes(45))
    assert alert_due(touched, RULES, minutes(129)) is None
    due = alert_due(touched, RULES, minutes(130))
    assert due is not None and (due.kind, due.quiet_for) == (PRE_ALERT, timedelta(minutes=30))
    assert kind(touched, 145) == OVERDUE


def test_a_ticket_first_seen_past_the_threshold_gets_no_pre_alert():
    due = alert_due(ticket(), RULES, minutes(90))
    assert due is not None and (due.kind, due.quiet_for) == (OVERDUE, timedelta(minutes=90))


def test_pre_alerts_can_be_turned_off():
    silent = AlertRules(RULES.threshold, timedelta(0), RULES.renotify)
    assert alert_due(ticket(), silent, minutes(44)) is None
    assert alert_due(ticket(), silent, minutes(45)) is not None


def test_a_pre_alert_longer_than_the_threshold_starts_at_once():
    eager = AlertRules(timedelta(minutes=10), timedelta(minutes=30), RULES.renotify)
    assert eager.prealert_from == timedelta(0)
    due = alert_due(ticket(), eager, minutes(0))
    assert due is not None and due.kind == PRE_ALERT


def test_it_groups_per_operator_longest_quiet_first():
    tickets = [
        WatchedTicket(1, 7, minutes(-50)),  # Ana: overdue 50
        WatchedTicket(2, 7, minutes(-120)),  # Ana: overdue 120
        WatchedTicket(3, 7, minutes(-35)),  # Ana: pre-alert
        WatchedTicket(4, 8, minutes(-46)),  # Juan: overdue
        WatchedTicket(5, 8, minutes(-10)),  # Juan: nothing yet
    ]
    grouped = alerts_by_operator(tickets, RULES, START)
    assert sorted(grouped) == [7, 8]
    assert [due.ticket_id for due in grouped[7].overdue] == [2, 1]
    assert [due.ticket_id for due in grouped[7].pre_alert] == [3]
    assert [due.ticket_id for due in grouped[8].overdue] == [4]
    assert grouped[8].pre_alert == []


@given(
    alerted=st.lists(st.integers(0, 600), max_size=6),
    now=st.integers(0, 600),
)
def test_an_overdue_alert_never_repeats_within_the_interval(alerted, now):
    # Whatever happened before, an overdue alert is due only past the renotify interval
    # since the last overdue one, and never before the threshold.
    times = [m for m in alerted if m <= now]
    due = alert_due(ticket(*times), RULES, minutes(now))
    if due is not None and due.kind == OVERDUE:
        assert now >= 45
        last_overdue = [m for m in times if m >= 45]
        assert not last_overdue or now - max(last_overdue) >= 60


def decided_from_every_alert(activity: int, alerted: list[int], now: int) -> str | None:
    """The rules of the module's docstring, read over a ticket's whole alert history."""
    since_activity = [m for m in alerted if m >= activity]
    if now - activity >= 45:
        overdue = [m for m in since_activity if m - activity >= 45]
        return OVERDUE if not overdue or now - max(overdue) >= 60 else None
    return PRE_ALERT if now - activity >= 30 and not since_activity else None


@given(
    activity=st.integers(0, 300),
    alerted=st.lists(st.integers(0, 600), max_size=8),
    now=st.integers(0, 600),
)
def test_the_newest_alert_decides_as_the_whole_history_would(activity, alerted, now):
    # Why the database hands over one alert time per ticket, however long it was neglected.
    times = [m for m in alerted if m <= now]
    newest = minutes(max(times)) if times else None
    due = alert_due(WatchedTicket(1, 7, minutes(min(activity, now)), newest), RULES, minutes(now))
    expected = decided_from_every_alert(min(activity, now), times, now)
    assert (due.kind if due else None) == expected


# Shifts ------------------------------------------------------------------------------------


ENDS = datetime(2026, 3, 11, 18, 0, tzinfo=BA)
HOUR = timedelta(hours=1)


def reminded(
    now: datetime, lead: float, every: float = 60, next_run: datetime | None = None
) -> bool:
    """Whether a run at `now` of a job every `every` minutes (next at `now + every` unless
    said) reminds of the 18:00 end with a lead of `lead` minutes."""
    every_delta = timedelta(minutes=every)
    following = next_run if next_run is not None else now + every_delta
    return reminder_due(ENDS, now, timedelta(minutes=lead), every_delta, following)


def test_the_reminder_is_due_within_the_lead_before_the_end_only():
    assert not reminded(ENDS - timedelta(minutes=61), 60)
    assert reminded(ENDS - HOUR, 60)
    assert reminded(ENDS - timedelta(seconds=1), 60)
    assert not reminded(ENDS, 60)
    assert not reminded(ENDS + timedelta(minutes=5), 60)
    assert not reminder_due(None, ENDS - HOUR, HOUR, HOUR, ENDS)


def test_a_lead_shorter_than_the_interval_is_served_by_the_last_run_before_the_end():
    # A 30-minute lead with hourly runs: 17:30-18:00 holds no run on the :00 or :15 grid.
    assert reminded(ENDS - timedelta(minutes=60), 30)
    assert reminded(ENDS - timedelta(minutes=45), 30)
    assert not reminded(ENDS - timedelta(minutes=61), 30)  # the 16:59 run: 17:59 comes
    # On the :45 grid the 17:45 run is inside the lead, so 16:45 leaves it to that one.
    assert not reminded(ENDS - timedelta(minutes=75), 30)
    assert reminded(ENDS - timedelta(minutes=15), 30)


def test_a_run_whose_next_is_after_the_end_is_the_last_chance_but_at_most_one_run_early():
    midnight_end = datetime(2026, 3, 12, 0, 30, tzinfo=BA)
    opens = datetime(2026, 3, 12, 8, 0, tzinfo=BA)  # the jobs' hours close at 24, reopen at 8
    lead = timedelta(minutes=60)
    # The 23:00 run: the next one (00:00) is not in the jobs' hours, and 08:00 is too late.
    assert reminder_due(midnight_end, midnight_end - timedelta(minutes=90), lead, HOUR, opens)
    assert not reminder_due(
        midnight_end, midnight_end - timedelta(minutes=90), lead, HOUR, opens - 8 * HOUR
    )
    # A night shift ending at 06:00, seen last at 22:00: eight hours early is no reminder.
    night_end = datetime(2026, 3, 12, 6, 0, tzinfo=BA)
    assert not reminder_due(night_end, night_end - 8 * HOUR, lead, HOUR, opens)
    assert not reminder_due(night_end, night_end - 8 * HOUR, lead, HOUR, None)


@given(offset=st.integers(0, 3599), lead=st.integers(1, 60))
def test_an_hourly_job_finds_the_end_in_exactly_one_run(offset, lead):
    # Any grid, any lead up to the interval: one run, never after the end.
    runs = [ENDS - 3 * HOUR + timedelta(seconds=offset) + HOUR * k for k in range(5)]
    due = [run for run in runs if reminded(run, lead)]
    assert len(due) == 1
    assert ENDS - HOUR <= due[0] < ENDS


@given(offset=st.integers(0, 3599), lead=st.integers(61, 720))
def test_with_a_lead_longer_than_the_interval_it_is_due_from_the_lead_on(offset, lead):
    runs = [ENDS - 13 * HOUR + timedelta(seconds=offset) + HOUR * k for k in range(15)]
    due = [run for run in runs if reminded(run, lead)]
    assert due == [run for run in runs if ENDS - timedelta(minutes=lead) <= run < ENDS]
    assert due


OFFICE = [Window(day, time(8), time(18)) for day in range(5)]


def test_the_shift_end_is_known_only_once_it_is_over():
    assert shift_ended_at(OFFICE, CALENDAR, datetime(2026, 3, 11, 17, 59, tzinfo=BA)) is None
    assert shift_ended_at(OFFICE, CALENDAR, datetime(2026, 3, 11, 18, 0, tzinfo=BA)) == datetime(
        2026, 3, 11, 18, 0, tzinfo=BA
    )
    # Saturday: the last shift was Friday's.
    saturday = datetime(2026, 3, 14, 12, 0, tzinfo=BA)
    assert shift_ended_at(OFFICE, CALENDAR, saturday) == datetime(2026, 3, 13, 18, 0, tzinfo=BA)
    # Before Thursday's shift, Wednesday's was the last.
    assert shift_ended_at(OFFICE, CALENDAR, datetime(2026, 3, 12, 7, 0, tzinfo=BA)) == datetime(
        2026, 3, 11, 18, 0, tzinfo=BA
    )
    # Nobody with no work windows ever ends a shift.
    assert shift_ended_at([], CALENDAR, saturday) is None


def test_a_shift_across_midnight_ends_the_next_day():
    night = [Window(2, time(22), time(6))]
    assert shift_ended_at(night, CALENDAR, datetime(2026, 3, 12, 5, 0, tzinfo=BA)) is None
    assert shift_ended_at(night, CALENDAR, datetime(2026, 3, 12, 7, 0, tzinfo=BA)) == datetime(
        2026, 3, 12, 6, 0, tzinfo=BA
    )


def test_split_shifts_end_at_each_part():
    split = [Window(2, time(8), time(12)), Window(2, time(14), time(18))]
    assert shift_ended_at(split, CALENDAR, datetime(2026, 3, 11, 13, 0, tzinfo=BA)) == datetime(
        2026, 3, 11, 12, 0, tzinfo=BA
    )


def test_only_tickets_given_before_the_end_are_left_behind():
    ended = datetime(2026, 3, 11, 18, 0, tzinfo=BA)
    tickets = [
        (1, ended - timedelta(hours=2)),
        (2, None),
        (3, ended),
        (4, ended + timedelta(minutes=5)),
    ]
    assert left_behind(tickets, ended) == [1, 2, 3]
