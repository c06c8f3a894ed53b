"""Who sees which ticket: supervisors and admins all, an operator their own, others none."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404
from django.utils import timezone

from ispdesk.operators.models import Operator
from ispdesk.tickets.access import access_ticket, can_create_tickets, tickets_for
from ispdesk.tickets.actions import NewTicket, do_assign_ticket, do_create_ticket


@pytest.fixture
def desk(team, operator):
    """Ana (the `operator` user) gets a profile and one ticket; Juan one; one waits in queue."""
    ana = Operator.objects.create(user=operator)

    def ticket(subject, owner):
        created, _ = do_create_ticket(None, NewTicket(subject=subject), auto_assign=False)
        if owner is not None:
            do_assign_ticket(None, created, owner)
        return created

    return {
        "ana": ana,
        "anas": ticket("Sin señal", ana),
        "juans": ticket("Corte de fibra", team["juan"]),
        "queued": ticket("Cambio de plan", None),
    }


def ids(tickets):
    return set(tickets.values_list("pk", flat=True))


@pytest.mark.parametrize("person", ["admin", "supervisor"])
def test_supervisors_and_admins_see_every_ticket(request, desk, person):
    user = request.getfixturevalue(person)
    assert ids(tickets_for(user)) == {desk[k].pk for k in ("anas", "juans", "queued")}
    assert access_ticket(user, desk["juans"].pk) == desk["juans"]


def test_an_operator_sees_only_the_tickets_assigned_to_her(desk, operator):
    assert ids(tickets_for(operator)) == {desk["anas"].pk}
    assert access_ticket(operator, desk["anas"].pk) == desk["anas"]
    for other in ("juans", "queued"):
        with pytest.raises(Http404):
            access_ticket(operator, desk[other].pk)


def test_a_ticket_taken_from_an_operator_disappears_from_her_view(desk, operator, team):
    do_assign_ticket(None, desk["anas"], team["sofia"])
    assert ids(tickets_for(operator)) == set()
    with pytest.raises(Http404):
        access_ticket(operator, desk["anas"].pk)


def test_someone_without_an_operator_profile_sees_nothing(desk, outsider):
    assert ids(tickets_for(outsider)) == set()
    for key in ("anas", "juans", "queued"):
        with pytest.raises(Http404):
            access_ticket(outsider, desk[key].pk)


def test_anonymous_and_deactivated_people_see_nothing(desk, admin):
    assert ids(tickets_for(AnonymousUser())) == set()
    assert ids(tickets_for(None)) == set()
    admin.is_active = False
    admin.save()
    assert ids(tickets_for(admin)) == set()
    with pytest.raises(Http404):
        access_ticket(admin, desk["juans"].pk)


def test_an_unknown_ticket_is_404_even_for_an_admin(desk, admin):
    with pytest.raises(Http404):
        access_ticket(admin, 10**6)


def test_fetched_tickets_carry_their_first_assignment_time(desk, admin, team):
    first = timezone.now() - timedelta(hours=2)
    desk["juans"].events.filter(kind="assigned").update(created_at=first)
    do_assign_ticket(None, desk["juans"], team["sofia"])
    ticket = access_ticket(admin, desk["juans"].pk)
    # Reassignment moved `assigned_at`; the first assignment stays where it was.
    assert ticket.first_assigned_at == first
    assert ticket.assigned_at > first + timedelta(hours=1)
    assert access_ticket(admin, desk["queued"].pk).first_assigned_at is None


@pytest.mark.parametrize(
    ("person", "allowed"),
    [("admin", True), ("supervisor", True), ("ana", True), ("outsider", False)],
)
def test_who_may_create_tickets(request, desk, person, allowed):
    user = desk["ana"].user if person == "ana" else request.getfixturevalue(person)
    assert can_create_tickets(user) is allowed


def test_an_inactive_operator_profile_may_not_create_tickets(desk):
    desk["ana"].active = False
    desk["ana"].save()
    assert can_create_tickets(desk["ana"].user) is False
    assert can_create_tickets(AnonymousUser()) is False
