from datetime import time

import pytest

from ispdesk.conftest import make_user
from ispdesk.operators.models import Operator, Schedule, ScheduleKind
from ispdesk.tickets.actions import NewTicket, do_assign_ticket, do_create_ticket
from ispdesk.tickets.models import Ticket


def make_operator(username: str, first_name: str, *, always_on: bool = True, **fields) -> Operator:
    user = make_user(username, "operator", first_name=first_name)
    operator = Operator.objects.create(user=user, **fields)
    if always_on:
        Schedule.objects.bulk_create(
            Schedule(
                operator=operator,
                kind=ScheduleKind.ASSIGNMENT,
                weekday=day,
                start=time(0),
                end=time(0),
            )
            for day in range(7)
        )
    return operator


@pytest.fixture
def team(db):
    return {
        "juan": make_operator("juan", "Juan"),
        "sofia": make_operator("sofia", "Sofía"),
        "pedro": make_operator("pedro", "Pedro", always_on=False),
    }


@pytest.fixture
def desk(team, operator):
    """Ana (the `operator` user) has a profile, off the assignment schedule so the engine
    never picks her; she has one ticket, Juan has one, one waits in the queue."""
    ana = Operator.objects.create(user=operator)

    def ticket(subject: str, owner: Operator | None) -> Ticket:
        created, _ = do_create_ticket(None, NewTicket(subject=subject), auto_assign=False)
        if owner is not None:
            do_assign_ticket(None, created, owner)
        created.refresh_from_db()
        return created

    return {
        **team,
        "ana": ana,
        "anas": ticket("Sin señal", ana),
        "juans": ticket("Corte de fibra", team["juan"]),
        "queued": ticket("Cambio de plan", None),
    }
