"""The overdue-alert job: one grouped WhatsApp message per operator, at the right times."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ispdesk.jobs.models import JobRun
from ispdesk.jobs.registry import get_job
from ispdesk.messaging.models import OutboundMessage
from ispdesk.operators.actions import PauseChange, do_set_pause
from ispdesk.operators.models import Operator, ScheduleKind
from ispdesk.system.actions import do_set_config
from ispdesk.system.config import clear_config_cache
from ispdesk.tickets.actions import do_comment_ticket
from ispdesk.tickets.alert_actions import alert_rules, do_send_ticket_alerts, watched_tickets
from ispdesk.tickets.jobs import OVERDUE_ALERTS
from ispdesk.tickets.models import EventKind, Ticket, TicketEvent
from ispdesk.tickets.tests.alerts_support import (
    ANA_PHONE,
    JUAN_PHONE,
    ana_fixture,  # noqa: F401 - the `ana` fixture
    at,
    gateway_fixture,  # noqa: F401 - the `gateway` fixture
    juan_fixture,  # noqa: F401 - the `juan` fixture
    listed,
    messages_to,
    quiet_ticket,
    run_job,
    spanish_in_buenos_aires_fixture,  # noqa: F401 - autouse
    windows,
)

NOW = at(11, 10)  # Wednesday 10:00


def alerted(ticket: Ticket) -> list[TicketEvent]:
    return list(TicketEvent.objects.filter(ticket=ticket, kind=EventKind.ALERTED))


def test_it_is_a_work_hours_job_every_three_minutes():
    job = get_job(OVERDUE_ALERTS)
    assert job is not None
    assert (job.interval, job.work_hours_only, job.honours_pause) == (
        timedelta(minutes=3),
        True,
        True,
    )


def test_it_sends_one_grouped_message_per_operator_once(gateway, ana, juan):
    old = quiet_ticket("Sin señal en Villa Crespo", ana, NOW - timedelta(minutes=120))
    late = quiet_ticket("Router reinicia solo", ana, NOW - timedelta(minutes=50))
    fresh = quiet_ticket("Cambio de plan", ana, NOW - timedelta(minutes=5))
    juans = quiet_ticket("Corte de fibra", juan, NOW - timedelta(minutes=46))

    run = run_job(OVERDUE_ALERTS, NOW)

    assert run is not None and run.outcome == JobRun.Outcome.OK
    assert run.counts == {"checked": 3, "notified": 2, "tickets": 3, "prealerted": 0, "blocked": 0}
    [to_ana] = messages_to(ANA_PHONE)
    assert "Ana, estos tickets están vencidos" in to_ana.body
    assert listed(to_ana, old) and listed(to_ana, late) and not listed(to_ana, fresh)
    # The longest-waiting first, with how long each has been without news.
    assert to_ana.body.index(f"#{old.pk}") < to_ana.body.index(f"#{late.pk}")
    assert f"#{old.pk} Sin señal en Villa Crespo (2 h)" in to_ana.body
    assert to_ana.context["tickets"] == [old.pk, late.pk]
    [to_juan] = messages_to(JUAN_PHONE)
    assert listed(to_juan, juans) and not listed(to_juan, old)

    # Every alerted ticket remembers it; the fresh one doesn't.
    for ticket in (old, late, juans):
        [event] = alerted(ticket)
        assert event.created_at == NOW
        ticket.refresh_from_db()
        assert ticket.alerts_sent == 1
    assert alerted(fresh) == []

    # The next run, three minutes later, repeats nothing.
    again = run_job(OVERDUE_ALERTS, NOW + timedelta(minutes=3))
    assert again is not None and again.counts["notified"] == 0
    assert OutboundMessage.objects.count() == 2


def test_it_repeats_only_after_the_renotify_interval(gateway, ana):
    ticket = quiet_ticket("Sin señal", ana, NOW - timedelta(minutes=45))
    do_send_ticket_alerts(NOW)
    assert do_send_ticket_alerts(NOW + timedelta(minutes=59))["tickets"] == 0
    assert len(messages_to(ANA_PHONE)) == 1

    counts = do_send_ticket_alerts(NOW + timedelta(minutes=60))

    assert counts["tickets"] == 1
    second = messages_to(ANA_PHONE)[-1]
    assert listed(second, ticket) and "(1 h 45 min)" in second.body
    ticket.refresh_from_db()
    assert ticket.alerts_sent == 2


def test_the_renotify_interval_is_a_setting(gateway, ana, admin):
    do_set_config(admin, {"ticket_renotify_minutes": 10})
    clear_config_cache()
    quiet_ticket("Sin señal", ana, NOW - timedelta(minutes=45))
    do_send_ticket_alerts(NOW)
    assert do_send_ticket_alerts(NOW + timedelta(minutes=10))["tickets"] == 1


def test_it_pre_alerts_before_the_threshold_then_alerts_once(gateway, ana):
    ticket = quiet_ticket("Lentitud", ana, NOW - timedelta(minutes=29))
    assert do_send_ticket_alerts(NOW)["prealerted"] == 0

    counts = do_send_ticket_alerts(NOW + timedelta(minutes=1))

    assert counts["prealerted"] == 1 and counts["tickets"] == 0
    [warning] = messages_to(ANA_PHONE)
    assert "están por vencer" in warning.body and listed(warning, ticket)
    assert warning.context["alert"] == "pre_alert"
    ticket.refresh_from_db()
    assert ticket.alerts_sent == 0  # pre-alerts are not counted as alerts
    # No second warning before the threshold; then the overdue alert.
    assert do_send_ticket_alerts(NOW + timedelta(minutes=10))["prealerted"] == 0
    assert do_send_ticket_alerts(NOW + timedelta(minutes=16))["tickets"] == 1
    overdue = messages_to(ANA_PHONE)[-1]
    assert "están vencidos" in overdue.body and listed(overdue, ticket)
    assert len(messages_to(ANA_PHONE)) == 2


def test_an_update_on_the_ticket_silences_it(gateway, ana, operator):
    ticket = quiet_ticket("Sin señal", ana, NOW - timedelta(minutes=44))
    do_comment_ticket(operator, ticket, "Llamé al cliente")
    TicketEvent.objects.filter(ticket=ticket, kind=EventKind.COMMENTED).update(
        created_at=NOW - timedelta(minutes=2)
    )
    assert do_send_ticket_alerts(NOW)["checked"] == 0
    assert not OutboundMessage.objects.exists()


def test_it_alerts_only_within_the_operators_alert_window(gateway, ana):
    windows(ana, ScheduleKind.ALERT, 14, 18)
    ticket = quiet_ticket("Sin señal", ana, NOW - timedelta(minutes=60))

    counts = do_send_ticket_alerts(NOW)

    assert (counts["blocked"], counts["notified"]) == (1, 0)
    assert not OutboundMessage.objects.exists() and alerted(ticket) == []
    # Once the window opens the ticket is still waiting, and the alert goes.
    assert do_send_ticket_alerts(at(11, 14))["tickets"] == 1
    assert listed(messages_to(ANA_PHONE)[0], ticket)


def test_without_alert_windows_the_work_windows_decide(gateway, ana, juan):
    windows(ana, ScheduleKind.WORK, 6, 9)  # Ana's shift ended at 9
    quiet_ticket("Sin señal", ana, NOW - timedelta(minutes=60))
    juans = quiet_ticket("Corte", juan, NOW - timedelta(minutes=60))  # Juan: no windows at all

    counts = do_send_ticket_alerts(NOW)

    assert (counts["blocked"], counts["notified"]) == (1, 1)
    assert messages_to(ANA_PHONE) == []
    assert listed(messages_to(JUAN_PHONE)[0], juans)


def test_paused_or_silenced_operators_get_nothing(gateway, ana, juan):
    do_set_pause(None, ana, PauseChange("full", True))
    Operator.objects.filter(pk=juan.pk).update(notifications_enabled=False)
    quiet_ticket("Sin señal", ana, NOW - timedelta(minutes=60))
    quiet_ticket("Corte", juan, NOW - timedelta(minutes=60))

    counts = do_send_ticket_alerts(NOW)

    assert (counts["blocked"], counts["notified"]) == (2, 0)
    assert not OutboundMessage.objects.exists()
    assert not TicketEvent.objects.filter(kind=EventKind.ALERTED).exists()


def test_unassigned_and_closed_tickets_are_not_watched(gateway, ana):
    quiet_ticket("En la cola", None, NOW - timedelta(minutes=90))
    closed = quiet_ticket("Resuelto", ana, NOW - timedelta(minutes=90))
    Ticket.objects.filter(pk=closed.pk).update(status="closed")
    assert do_send_ticket_alerts(NOW)["checked"] == 0


def test_the_scheduled_job_waits_for_work_hours(gateway, ana):
    ticket = quiet_ticket("Sin señal", ana, at(11, 1))
    assert run_job(OVERDUE_ALERTS, at(11, 3)) is None  # 03:00: outside 8-23
    assert not OutboundMessage.objects.exists()
    run = run_job(OVERDUE_ALERTS, at(11, 8))
    assert run is not None and run.counts["tickets"] == 1
    assert listed(messages_to(ANA_PHONE)[0], ticket)


def test_the_query_count_does_not_grow_with_tickets(
    gateway, ana, juan, django_assert_max_num_queries
):
    for index in range(6):
        quiet_ticket(f"Ticket {index}", ana if index % 2 else juan, NOW - timedelta(minutes=60))
    # Loads, then per operator: lock, the decision again (2), message, events, counter, audit.
    with django_assert_max_num_queries(34):
        counts = do_send_ticket_alerts(NOW)
    assert counts["tickets"] == 6


def test_a_run_taken_over_after_its_lease_does_not_alert_twice(gateway, ana):
    """Two runs that both read the same overdue ticket (the first outlived its lease): the
    decision is taken again under the ticket's lock, so only one grouped alert goes out."""
    from ispdesk.tickets.alert_actions import (
        _send_ticket_alerts,
        _Team,
        alert_rules,
        watched_tickets,
    )
    from ispdesk.tickets.alerts import alerts_by_operator

    ticket = quiet_ticket("Sin servicio", ana, NOW - timedelta(hours=2))
    rules = alert_rules()
    due = alerts_by_operator(watched_tickets(rules, NOW), rules, NOW)[ana.pk].overdue
    team = _Team([ana.pk], NOW)
    assert _send_ticket_alerts(ana, "overdue", due, team, NOW, rules) == [ticket.pk]
    assert _send_ticket_alerts(ana, "overdue", due, team, NOW, rules) == []
    assert len(alerted(ticket)) == 1
    assert len(messages_to(ANA_PHONE)) == 1


def alerted_hourly(ticket: Ticket, operator: Operator, hours: range) -> None:
    """Overdue alerts on `ticket`, one for each number of hours before NOW."""
    TicketEvent.objects.bulk_create(
        TicketEvent(
            ticket=ticket,
            kind=EventKind.ALERTED,
            created_at=NOW - timedelta(hours=hour),
            operator=operator,
            text="Alerta de vencimiento enviada",
        )
        for hour in hours
    )


def rows_returned(captured: CaptureQueriesContext) -> int:
    """How many rows the captured SELECTs return, run again as they were sent."""
    total = 0
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            if query["sql"].lstrip().upper().startswith("SELECT"):
                cursor.execute(query["sql"])
                total += len(cursor.fetchall())
    return total


def dry_run_cost() -> tuple[int, int, dict[str, int]]:
    """The queries and rows a run of the job at NOW takes, and its counts; then undone, so
    the rows are counted against what the run saw."""
    with transaction.atomic():
        with CaptureQueriesContext(connection) as captured:
            counts = do_send_ticket_alerts(NOW)
        transaction.set_rollback(True)
    return len(captured), rows_returned(captured), counts


def test_a_month_of_neglect_costs_no_more_to_look_at_than_an_hour(gateway, ana, juan):
    neglected = quiet_ticket("Sin señal desde hace un mes", ana, NOW - timedelta(days=30))
    juans = quiet_ticket("Corte", juan, NOW - timedelta(minutes=50))
    alerted_hourly(neglected, ana, range(1, 2))
    rules = alert_rules()
    with CaptureQueriesContext(connection) as captured:
        watched = watched_tickets(rules, NOW)
    # One query, one row per ticket, with the newest alert.
    assert (len(captured), rows_returned(captured)) == (1, 2)
    assert sorted((ticket.ticket_id, ticket.last_alerted_at) for ticket in watched) == [
        (neglected.pk, NOW - timedelta(hours=1)),
        (juans.pk, None),
    ]
    once = dry_run_cost()
    assert once[2]["tickets"] == 2

    alerted_hourly(neglected, ana, range(2, 30 * 24))  # alerted every hour for a month

    assert dry_run_cost() == once
