from datetime import time

import pytest

from ispdesk.conftest import make_user
from ispdesk.operators.models import Operator, Schedule, ScheduleKind


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
