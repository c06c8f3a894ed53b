"""Notifying operators: who is skipped and why, and what reaches the outbox."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from ispdesk.lib.calendar import BusinessCalendar, DayException, Window
from ispdesk.messaging.message_templates import UnknownTemplate
from ispdesk.messaging.models import GatewayConnection, OutboundMessage, Purpose
from ispdesk.messaging.notifications import (
    NO_CONNECTION,
    NOTIFICATIONS_OFF,
    OUTSIDE_ALERT_WINDOW,
    PAUSED,
    AlertFacts,
    TicketLine,
    alert_block,
    check_operator,
    format_waiting,
    notify_operator,
    notify_operator_text,
    shift_summary_values,
    ticket_lines,
)
from ispdesk.operators.models import CalendarException, Operator, Schedule, ScheduleKind
from ispdesk.operators.tests.conftest import make_operator
from ispdesk.tickets.models import Source, Status, Ticket

BA = ZoneInfo("America/Argentina/Buenos_Aires")
# A Wednesday that is not a holiday; ten in the morning in Buenos Aires.
WEDNESDAY_10 = datetime(2026, 3, 11, 10, 0, tzinfo=BA)
WEDNESDAY_22 = datetime(2026, 3, 11, 22, 0, tzinfo=BA)
WEDNESDAY = 2
OFFICE = [Window(day, time(8), time(18)) for day in range(5)]
VALUES = {"operator": "Juan", "count": "1", "tickets": "• #1 Sin servicio (2 h)"}


@pytest.fixture(autouse=True)
def _spanish(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "es-ar"
    settings.TIME_ZONE = "America/Argentina/Buenos_Aires"


@pytest.fixture
def gateway(db) -> GatewayConnection:  # type: ignore[no-untyped-def]
    return GatewayConnection.objects.create(kind="simulator", name="Simulador", is_default=True)


@pytest.fixture
def juan(db) -> Operator:  # type: ignore[no-untyped-def]
    return make_operator("juan", "Juan", whatsapp="+54 9 11 5555-0002", person_id=11)


def office_hours(operator: Operator) -> None:
    Schedule.objects.bulk_create(
        Schedule(
            operator=operator, kind=ScheduleKind.ALERT, weekday=w.weekday, start=w.start, end=w.end
        )
        for w in OFFICE
    )


def facts(**changes) -> AlertFacts:  # type: ignore[no-untyped-def]
    base = {
        "whatsapp": "+5491155550002",
        "active": True,
        "notifications_enabled": True,
        "is_paused": False,
        "alert_windows": tuple(OFFICE),
    }
    return AlertFacts(**{**base, **changes})


CALENDAR = BusinessCalendar(tz=BA)


# The decision (pure) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "at", "code"),
    [
        ({}, WEDNESDAY_10, None),
        ({"whatsapp": ""}, WEDNESDAY_10, "no_number"),
        ({"whatsapp": "  "}, WEDNESDAY_10, "no_number"),
        ({"whatsapp": "12"}, WEDNESDAY_10, "bad_number"),
        ({"active": False}, WEDNESDAY_10, "inactive"),
        ({"notifications_enabled": False}, WEDNESDAY_10, "notifications_off"),
        ({"is_paused": True}, WEDNESDAY_10, "paused"),
        ({}, WEDNESDAY_22, "outside_alert_window"),
        ({"alert_windows": ()}, WEDNESDAY_22, None),
        ({"alert_windows": ()}, datetime(2026, 3, 15, 3, 0, tzinfo=BA), None),
    ],
)
def test_it_decides_whether_an_operator_may_be_alerted(changes, at, code):
    block = alert_block(facts(**changes), CALENDAR, at)
    assert (block.code if block else None) == code


def test_force_overrides_the_schedule_but_never_the_operators_own_choices():
    assert alert_block(facts(), CALENDAR, WEDNESDAY_22, force=True) is None
    for changes, code in (
        ({"notifications_enabled": False}, "notifications_off"),
        ({"is_paused": True}, "paused"),
        ({"whatsapp": ""}, "no_number"),
    ):
        block = alert_block(facts(**changes), CALENDAR, WEDNESDAY_22, force=True)
        assert block is not None and block.code == code


def test_a_closed_day_in_the_calendar_closes_the_alert_window():
    closed = BusinessCalendar(
        tz=BA, exceptions={WEDNESDAY_10.date(): DayException(WEDNESDAY_10.date())}
    )
    block = alert_block(facts(), closed, WEDNESDAY_10)
    assert block is not None and block.code == OUTSIDE_ALERT_WINDOW


def test_a_window_crossing_midnight_covers_the_small_hours():
    night = (Window(WEDNESDAY, time(22), time(6)),)
    thursday_3 = datetime(2026, 3, 12, 3, 0, tzinfo=BA)
    assert alert_block(facts(alert_windows=night), CALENDAR, thursday_3) is None
    assert alert_block(facts(alert_windows=night), CALENDAR, WEDNESDAY_10) is not None


# Queueing ------------------------------------------------------------------------------------


def test_it_queues_an_operator_alert_in_the_outbox_and_sends_nothing_itself(gateway, juan):
    outcome = notify_operator(juan, "overdue_alert", VALUES, now=WEDNESDAY_10)
    assert outcome.skipped_reason is None
    message = OutboundMessage.objects.get()
    assert outcome.queued == message
    assert message.purpose == Purpose.OPERATOR_ALERT
    assert message.status == "queued"
    assert message.connection == gateway
    assert message.to == "+5491155550002"
    assert message.body.startswith("⏰ Juan, estos tickets están vencidos")
    assert "• #1 Sin servicio (2 h)" in message.body
    assert message.context == {"operator": juan.pk, "template": "overdue_alert"}
    assert message.provider_id is None and message.sent_at is None


def test_it_uses_the_default_connection_for_alerts(gateway, juan):
    other = GatewayConnection.objects.create(kind="simulator", name="Ventas")
    GatewayConnection.objects.filter(pk=gateway.pk).update(is_default=False)
    GatewayConnection.objects.filter(pk=other.pk).update(is_default=True)
    outcome = notify_operator(juan, "overdue_alert", VALUES, now=WEDNESDAY_10)
    assert outcome.queued is not None and outcome.queued.connection_id == other.pk


def test_it_writes_in_the_installations_language(gateway, juan, settings):
    settings.LANGUAGE_CODE = "en"
    outcome = notify_operator(juan, "overdue_alert", VALUES, now=WEDNESDAY_10)
    assert outcome.queued is not None
    assert outcome.queued.body.startswith("⏰ Juan, these tickets are overdue")


def test_extra_context_is_kept_for_the_ui(gateway, juan):
    outcome = notify_operator_text(juan, "Reunión a las 15", now=WEDNESDAY_10, context={"x": 1})
    assert outcome.queued is not None
    assert outcome.queued.body == "Reunión a las 15"
    assert outcome.queued.context == {"operator": juan.pk, "template": "", "x": 1}


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"whatsapp": ""}, "no_number", "no WhatsApp number"),
        ({"notifications_enabled": False}, NOTIFICATIONS_OFF, "notifications turned off"),
        ({"is_paused": True}, PAUSED, "paused"),
        ({"active": False}, "inactive", "inactive"),
    ],
)
def test_it_skips_saying_why_and_writes_nothing(gateway, juan, settings, change, code, words):
    settings.LANGUAGE_CODE = "en"
    Operator.objects.filter(pk=juan.pk).update(**change)
    juan.refresh_from_db()
    outcome = notify_operator(juan, "overdue_alert", VALUES, now=WEDNESDAY_10)
    assert outcome.queued is None
    assert outcome.skip_code == code
    assert words in (outcome.skipped_reason or "")
    assert not OutboundMessage.objects.exists()


def test_it_skips_outside_the_alert_schedule_unless_forced(gateway, juan, settings):
    settings.LANGUAGE_CODE = "en"
    office_hours(juan)
    late = notify_operator(juan, "overdue_alert", VALUES, now=WEDNESDAY_22)
    assert late.queued is None
    assert late.skipped_reason == "it is outside the operator's alert schedule"
    assert not OutboundMessage.objects.exists()
    on_time = notify_operator(juan, "overdue_alert", VALUES, now=WEDNESDAY_10)
    forced = notify_operator(juan, "overdue_alert", VALUES, now=WEDNESDAY_22, force=True)
    assert on_time.queued is not None and forced.queued is not None
    assert OutboundMessage.objects.count() == 2


def test_a_holiday_exception_closes_the_window_in_the_database_too(gateway, juan):
    office_hours(juan)
    CalendarException.objects.create(day=WEDNESDAY_10.date(), closed=True)
    outcome = notify_operator(juan, "overdue_alert", VALUES, now=WEDNESDAY_10)
    assert outcome.skip_code == OUTSIDE_ALERT_WINDOW


def test_an_operator_without_alert_windows_is_always_reachable(gateway, juan):
    sunday_3am = datetime(2026, 3, 15, 3, 0, tzinfo=BA)
    outcome = notify_operator(juan, "overdue_alert", VALUES, now=sunday_3am)
    assert outcome.queued is not None


def test_other_kinds_of_windows_do_not_restrict_alerts(gateway, juan):
    Schedule.objects.create(
        operator=juan, kind=ScheduleKind.WORK, weekday=WEDNESDAY, start=time(8), end=time(9)
    )
    assert notify_operator(juan, "overdue_alert", VALUES, now=WEDNESDAY_22).queued is not None


def test_it_skips_when_no_connection_can_carry_the_message(db, juan, settings):
    settings.LANGUAGE_CODE = "en"
    GatewayConnection.objects.create(kind="simulator", name="Apagada", enabled=False)
    outcome = notify_operator(juan, "overdue_alert", VALUES, now=WEDNESDAY_10)
    assert outcome.queued is None
    assert outcome.skip_code == NO_CONNECTION
    assert outcome.skipped_reason == "there is no WhatsApp connection"
    assert not OutboundMessage.objects.exists()


def test_the_operators_own_reason_comes_before_the_missing_connection(db, juan):
    Operator.objects.filter(pk=juan.pk).update(is_paused=True)
    juan.refresh_from_db()
    assert notify_operator(juan, "overdue_alert", VALUES, now=WEDNESDAY_10).skip_code == PAUSED


def test_an_unknown_template_is_a_bug_even_when_the_operator_would_be_skipped(db, juan):
    Operator.objects.filter(pk=juan.pk).update(whatsapp="")
    juan.refresh_from_db()
    with pytest.raises(UnknownTemplate):
        notify_operator(juan, "overdue", VALUES, now=WEDNESDAY_10)


def test_the_check_says_when_the_alert_window_opens_next(gateway, juan):
    office_hours(juan)
    check = check_operator(juan, WEDNESDAY_22)
    assert not check.can_receive
    assert check.next_window_at == datetime(2026, 3, 12, 8, 0, tzinfo=BA)
    assert check_operator(juan, WEDNESDAY_10).can_receive


# Values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "0 min"),
        (59, "0 min"),
        (45 * 60, "45 min"),
        (3600, "1 h"),
        (2 * 3600 + 5 * 60, "2 h 5 min"),
        (86400, "1 d"),
        (3 * 86400 + 4 * 3600 + 59, "3 d 4 h"),
        (-30, "0 min"),
    ],
)
def test_it_writes_waiting_times_short(seconds, words):
    assert format_waiting(seconds) == words


def test_the_grouped_list_has_one_line_per_ticket():
    lines = [TicketLine("12", "Sin servicio", "2 h"), TicketLine("13", "Factura", "")]
    assert ticket_lines(lines) == "• #12 Sin servicio (2 h)\n• #13 Factura"


def test_a_long_list_stays_within_one_whatsapp_message():
    lines = [TicketLine(str(n), "Sin servicio " + "x" * 300, "3 d 4 h") for n in range(100)]
    text = ticket_lines(lines)
    assert len(text) < 3000
    assert text.count("\n") == 25
    assert text.endswith("… +75")
    assert "• #0 Sin servicio xxx" in text and "…" in text.splitlines()[0]


def ticket(operator: Operator, number: int, **fields) -> Ticket:  # type: ignore[no-untyped-def]
    defaults = {"subject": f"Ticket {number}", "created_at": WEDNESDAY_10 - timedelta(minutes=10)}
    return Ticket.objects.create(
        source=Source.MANUAL, external_id=str(number), assignee=operator, **{**defaults, **fields}
    )


def test_the_shift_summary_counts_open_closed_today_and_overdue(db, juan):
    ticket(juan, 1)
    ticket(juan, 2, created_at=WEDNESDAY_10 - timedelta(hours=3))  # overdue (60 min)
    ticket(juan, 3, status=Status.CLOSED, closed_at=WEDNESDAY_10 - timedelta(hours=1))
    ticket(juan, 4, status=Status.CLOSED, closed_at=WEDNESDAY_10 - timedelta(days=1))
    other = make_operator("sofia", "Sofía")
    ticket(other, 5)
    values = shift_summary_values(juan, WEDNESDAY_10)
    assert values == {"operator": "Juan", "open": "2", "closed_today": "1", "overdue": "1"}
