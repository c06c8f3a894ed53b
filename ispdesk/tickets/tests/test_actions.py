import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ispdesk.system.models import AuditEvent
from ispdesk.tickets.actions import (
    NewTicket,
    TicketActionError,
    do_assign_ticket,
    do_assign_unassigned,
    do_auto_assign,
    do_change_status,
    do_close_ticket,
    do_comment_ticket,
    do_create_ticket,
    do_reopen_ticket,
    do_unassign_ticket,
)
from ispdesk.tickets.models import EventKind, Source, Status, Ticket
from ispdesk.tickets.tests.conftest import make_operator


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    # Assertions read the English reasons, whatever the Spanish catalog says.
    settings.LANGUAGE_CODE = "en"


def kinds(ticket):
    return list(ticket.events.values_list("kind", flat=True))


def test_it_creates_a_ticket_and_assigns_it_with_the_engines_reason(team, admin):
    ticket, created = do_create_ticket(admin, NewTicket(subject="Sin internet"))
    assert created
    assert ticket.assignee in (team["juan"], team["sofia"])
    assert ticket.status == Status.ASSIGNED
    assert kinds(ticket) == [EventKind.CREATED, EventKind.ASSIGNED]
    assigned = ticket.events.get(kind=EventKind.ASSIGNED)
    assert assigned.actor == admin
    assert "0 open tickets, fewest among Juan, Sofía" in assigned.text
    assert AuditEvent.objects.filter(action="ticket.assigned", object_id=str(ticket.pk)).exists()


def test_it_alternates_between_operators_with_equal_loads(team, admin):
    owners = [
        do_create_ticket(admin, NewTicket(subject=f"Caso {n}"))[0].assignee.user.username
        for n in range(4)
    ]
    assert sorted(owners) == ["juan", "juan", "sofia", "sofia"]
    assert owners[0] != owners[1]


def test_creating_the_same_external_ticket_twice_creates_it_once(team):
    new = NewTicket(subject="Corte", source=Source.GESTIONREAL, external_id="GR-77")
    first, created_first = do_create_ticket(None, new)
    second, created_second = do_create_ticket(None, new)
    assert (created_first, created_second) == (True, False)
    assert first.pk == second.pk
    assert Ticket.objects.count() == 1


def test_an_empty_subject_is_refused_and_nothing_is_stored(team):
    with pytest.raises(TicketActionError) as caught:
        do_create_ticket(None, NewTicket(subject="   "))
    assert caught.value.fields == {"subject": "required"}
    assert Ticket.objects.count() == 0


def test_with_nobody_available_the_ticket_waits_and_is_assigned_when_someone_resumes(team):
    for operator in team.values():
        operator.is_paused = True
        operator.save()
    ticket, _created = do_create_ticket(None, NewTicket(subject="Lento"))
    assert ticket.assignee is None
    assert ticket.status == Status.NEW
    team["sofia"].is_paused = False
    team["sofia"].save()
    results = do_assign_unassigned(None)
    assert [(pk, decision.operator_id) for pk, decision in results] == [
        (ticket.pk, team["sofia"].pk)
    ]


def test_manual_reassignment_keeps_both_names_in_the_history(team, supervisor):
    ticket, _ = do_create_ticket(None, NewTicket(subject="Router"), auto_assign=False)
    do_assign_ticket(supervisor, ticket, team["juan"])
    do_assign_ticket(supervisor, ticket, team["sofia"])
    event = ticket.events.get(kind=EventKind.REASSIGNED)
    assert (event.previous_operator, event.operator) == (team["juan"], team["sofia"])
    assert "Silvia" in event.text


def test_status_changes_record_the_first_response_once(team, operator):
    ticket, _ = do_create_ticket(None, NewTicket(subject="Router"))
    do_change_status(operator, ticket, Status.IN_PROGRESS)
    ticket.refresh_from_db()
    first = ticket.first_response_at
    assert first is not None
    do_comment_ticket(operator, ticket, "Reinicié la ONU")
    ticket.refresh_from_db()
    assert ticket.first_response_at == first


def test_close_and_reopen_round_trip(team, operator):
    ticket, _ = do_create_ticket(None, NewTicket(subject="Router"))
    do_close_ticket(operator, ticket)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.closed_at is not None) == (Status.CLOSED, True)
    with pytest.raises(TicketActionError):
        do_change_status(operator, ticket, Status.WAITING)
    do_reopen_ticket(operator, ticket)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.closed_at) == (Status.ASSIGNED, None)
    assert kinds(ticket)[-2:] == [EventKind.CLOSED, EventKind.REOPENED]


def test_unassigning_puts_the_ticket_back_in_the_queue(team, supervisor):
    ticket, _ = do_create_ticket(None, NewTicket(subject="Router"))
    do_unassign_ticket(supervisor, ticket, "fin de turno")
    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.status) == (None, Status.NEW)
    assert ticket.events.last().text == "fin de turno"


def test_an_empty_comment_is_refused(team, operator):
    ticket, _ = do_create_ticket(None, NewTicket(subject="Router"))
    with pytest.raises(TicketActionError):
        do_comment_ticket(operator, ticket, "  ")
    assert not ticket.events.filter(kind=EventKind.COMMENTED).exists()


def test_events_are_queued_only_on_commit(team, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        do_create_ticket(None, NewTicket(subject="Router"))
    assert len(callbacks) >= 2


def test_one_decision_takes_the_same_queries_whatever_the_team_and_history(team):
    def one_decision() -> int:
        ticket, _ = do_create_ticket(None, NewTicket(subject="Corte"), auto_assign=False)
        with CaptureQueriesContext(connection) as queries:
            assert do_auto_assign(None, ticket).operator_id is not None
        return len(queries)

    one_decision()  # the settings cache
    small = one_decision()
    for n in range(15):
        extra = make_operator(f"extra{n}", f"Extra {n}")
        for k in range(3):
            closed, _ = do_create_ticket(None, NewTicket(subject=f"Viejo {n}-{k}"))
            do_close_ticket(None, closed)
        do_assign_ticket(None, do_create_ticket(None, NewTicket(subject=f"Abierto {n}"))[0], extra)
    assert one_decision() == small


def test_a_decision_reads_the_operators_once_and_not_the_chosen_one_again(team):
    ticket, _ = do_create_ticket(None, NewTicket(subject="Corte"), auto_assign=False)
    with CaptureQueriesContext(connection) as queries:
        decision = do_auto_assign(None, ticket)
    reads = [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith("SELECT") and "operators_operator" in q["sql"]
    ]
    facts = [sql for sql in reads if "is_paused" in sql]
    # Besides the facts, at most the team lock alone (where the facts' read cannot lock).
    assert len(facts) == 1
    assert all(sql.upper().rstrip().endswith("FOR UPDATE") for sql in reads if sql not in facts)
    ticket.refresh_from_db()
    assert ticket.assignee_id == decision.operator_id
    assigned = ticket.events.get(kind=EventKind.ASSIGNED)
    assert assigned.operator_id == decision.operator_id
    assert assigned.operator.name in decision.reason
