"""Response-time metrics of one ticket: pure, no database."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ispdesk.tickets.metrics import TicketMetrics, TicketTimes, is_overdue, ticket_metrics

CREATED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def at(minutes: float) -> datetime:
    return CREATED + timedelta(minutes=minutes)


CASES = [
    pytest.param(
        TicketTimes(CREATED),
        at(10),
        TicketMetrics(None, None, None, 0, False, 600),
        id="new and waiting, not yet overdue",
    ),
    pytest.param(
        TicketTimes(CREATED),
        at(60),
        TicketMetrics(None, None, None, 0, False, 3600),
        id="exactly at the threshold is not overdue yet",
    ),
    pytest.param(
        TicketTimes(CREATED),
        at(60) + timedelta(seconds=1),
        TicketMetrics(None, None, None, 0, True, 3601),
        id="one second past the threshold is overdue",
    ),
    pytest.param(
        TicketTimes(CREATED, first_assigned_at=at(2)),
        at(90),
        TicketMetrics(120, None, None, 0, True, 5400),
        id="assigned but unanswered still becomes overdue",
    ),
    pytest.param(
        TicketTimes(CREATED, first_assigned_at=at(2), first_response_at=at(75), alerts_sent=2),
        at(300),
        TicketMetrics(120, 4500, None, 2, False, None),
        id="answered late: not overdue any more, alerts counted",
    ),
    pytest.param(
        TicketTimes(
            CREATED,
            first_assigned_at=at(1),
            first_response_at=at(5),
            closed_at=at(125),
            is_open=False,
        ),
        at(10_000),
        TicketMetrics(60, 300, 7500, 0, False, None),
        id="closed: every time measured, nothing waits",
    ),
    pytest.param(
        TicketTimes(CREATED, closed_at=at(600), is_open=False),
        at(1000),
        TicketMetrics(None, None, 36000, 0, False, None),
        id="closed without ever being assigned or answered is not overdue",
    ),
    pytest.param(
        TicketTimes(CREATED, first_assigned_at=at(3), closed_at=at(30), is_open=True),
        at(200),
        TicketMetrics(180, None, None, 0, True, 12000),
        id="reopened: a stale close time is ignored",
    ),
    pytest.param(
        TicketTimes(CREATED, first_assigned_at=at(-5), first_response_at=at(-1)),
        at(10),
        TicketMetrics(0, 0, None, 0, False, None),
        id="stamps before creation from another system's clock count as zero",
    ),
    pytest.param(
        TicketTimes(CREATED),
        at(-30),
        TicketMetrics(None, None, None, 0, False, 0),
        id="a ticket created in the future has waited zero seconds",
    ),
    pytest.param(
        TicketTimes(CREATED, first_assigned_at=CREATED + timedelta(seconds=59.9)),
        at(1),
        TicketMetrics(59, None, None, 0, False, 60),
        id="fractions of a second are dropped",
    ),
    pytest.param(
        TicketTimes(CREATED, first_assigned_at=at(0), first_response_at=at(0)),
        at(0),
        TicketMetrics(0, 0, None, 0, False, None),
        id="everything at the same instant",
    ),
]


@pytest.mark.parametrize(("times", "now", "expected"), CASES)
def test_it_measures_a_ticket(times, now, expected):
    assert ticket_metrics(times, now, HOUR) == expected


@pytest.mark.parametrize(
    ("threshold", "minutes_old", "overdue"),
    [
        (timedelta(minutes=1), 0.5, False),
        (timedelta(minutes=1), 2, True),
        (timedelta(minutes=15), 14, False),
        (timedelta(minutes=15), 16, True),
        (timedelta(days=7), 7 * 24 * 60 - 1, False),
        (timedelta(days=7), 7 * 24 * 60 + 1, True),
    ],
)
def test_the_threshold_decides_when_a_ticket_is_overdue(threshold, minutes_old, overdue):
    now = at(minutes_old)
    assert is_overdue(TicketTimes(CREATED), now, threshold) is overdue
    assert ticket_metrics(TicketTimes(CREATED), now, threshold).overdue is overdue


def test_time_zones_do_not_change_the_measure():
    buenos_aires = timezone(timedelta(hours=-3))
    times = TicketTimes(CREATED.astimezone(buenos_aires), first_assigned_at=at(4))
    metrics = ticket_metrics(times, at(5).astimezone(buenos_aires), HOUR)
    assert metrics == TicketMetrics(240, None, None, 0, False, 300)


optional_offsets = st.one_of(st.none(), st.integers(min_value=-10_000, max_value=10**7))


@given(
    assigned=optional_offsets,
    responded=optional_offsets,
    closed=optional_offsets,
    now_offset=st.integers(min_value=-10_000, max_value=10**7),
    threshold_minutes=st.integers(min_value=1, max_value=10_080),
    alerts=st.integers(min_value=0, max_value=50),
)
def test_invariants_hold_for_any_timestamps(
    assigned, responded, closed, now_offset, threshold_minutes, alerts
):
    def stamp(offset):
        return None if offset is None else CREATED + timedelta(seconds=offset)

    times = TicketTimes(
        CREATED,
        first_assigned_at=stamp(assigned),
        first_response_at=stamp(responded),
        closed_at=stamp(closed),
        is_open=closed is None,
        alerts_sent=alerts,
    )
    now = CREATED + timedelta(seconds=now_offset)
    threshold = timedelta(minutes=threshold_minutes)
    metrics = ticket_metrics(times, now, threshold)

    for value in (
        metrics.seconds_to_assignment,
        metrics.seconds_to_first_response,
        metrics.seconds_to_close,
        metrics.waiting_seconds,
    ):
        assert value is None or value >= 0
    assert (metrics.seconds_to_assignment is None) == (assigned is None)
    assert (metrics.seconds_to_first_response is None) == (responded is None)
    assert (metrics.seconds_to_close is None) == (closed is None)
    # Only open, unanswered tickets wait, and only those can be overdue.
    assert (metrics.waiting_seconds is not None) == (closed is None and responded is None)
    if metrics.overdue:
        assert metrics.waiting_seconds is not None
        assert metrics.waiting_seconds >= threshold.total_seconds()
    elif metrics.waiting_seconds is not None:
        assert metrics.waiting_seconds <= threshold.total_seconds()
    assert metrics.alerts_sent == alerts
