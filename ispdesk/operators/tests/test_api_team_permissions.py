"""Who may call each team endpoint, as an (endpoint, person) table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from typing import Any

import pytest
from django.test import Client

from ispdesk.accounts.models import Role
from ispdesk.conftest import make_user
from ispdesk.operators.models import Area, CalendarException, Operator, Schedule, ShiftTag
from ispdesk.system.models import AuditEvent

ADMIN = frozenset({"admin"})
SUPERVISOR = frozenset({"admin", "supervisor"})
EVERYONE = frozenset({"admin", "supervisor", "operator", "outsider"})
PEOPLE = ("anonymous", "outsider", "operator", "supervisor", "admin")

Ids = dict[str, int]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    allowed: frozenset[str]
    body: Callable[[Ids], Any] | None = None
    ok: int = 200

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def call(self, client: Client, ids: Ids, **extra: Any) -> Any:
        path = self.path.format(**ids)
        send = getattr(client, self.method.lower())
        if self.body is None:
            return send(path, **extra)
        return send(path, self.body(ids), content_type="application/json", **extra)


def _window(ids: Ids) -> dict[str, Any]:
    return {"weekday": 0, "start": "09:00", "end": "17:00"}


ENDPOINTS = [
    Endpoint("GET", "/api/admin/operators", SUPERVISOR),
    Endpoint("POST", "/api/admin/operators", ADMIN, lambda ids: {"user_id": ids["user"]}, 201),
    Endpoint("PUT", "/api/admin/operators/{operator}", ADMIN, lambda ids: {"chat_capacity": 3}),
    Endpoint(
        "POST",
        "/api/admin/operators/{operator}/pause",
        SUPERVISOR,
        lambda ids: {"mode": "full"},
    ),
    Endpoint(
        "POST",
        "/api/admin/operators/{operator}/resume",
        SUPERVISOR,
        lambda ids: {"mode": "assignment"},
    ),
    Endpoint("GET", "/api/admin/schedules", ADMIN),
    Endpoint(
        "POST",
        "/api/admin/schedules",
        ADMIN,
        lambda ids: {"operator": ids["operator"], "kind": "work", **_window(ids)},
        201,
    ),
    Endpoint("DELETE", "/api/admin/schedules/{schedule}", ADMIN, ok=204),
    Endpoint(
        "PUT",
        "/api/admin/operators/{operator}/schedules",
        ADMIN,
        lambda ids: {"kind": "alert", "windows": [_window(ids)]},
    ),
    Endpoint("GET", "/api/areas", EVERYONE),
    Endpoint("POST", "/api/areas", ADMIN, lambda ids: {"name": "Ventas"}, 201),
    Endpoint("PUT", "/api/areas/{area}", ADMIN, lambda ids: {"description": "Fibra y radio"}),
    Endpoint("GET", "/api/admin/calendar/exceptions", ADMIN),
    Endpoint(
        "POST",
        "/api/admin/calendar/exceptions",
        ADMIN,
        lambda ids: {"day": "2026-12-24", "closed": True},
        201,
    ),
    Endpoint("DELETE", "/api/admin/calendar/exceptions/{exception}", ADMIN, ok=204),
    Endpoint("GET", "/api/admin/calendar/holidays?year=2026", ADMIN),
    Endpoint("GET", "/api/admin/on-duty?from=2026-01-01&to=2026-01-31", ADMIN),
    Endpoint(
        "PUT", "/api/admin/on-duty/2026-01-03", ADMIN, lambda ids: {"operators": [ids["operator"]]}
    ),
    Endpoint("GET", "/api/admin/shift-tags", ADMIN),
    Endpoint(
        "POST", "/api/admin/shift-tags", ADMIN, lambda ids: {"tag": "[TN]", "name": "Noche"}, 201
    ),
    Endpoint("PUT", "/api/admin/shift-tags/{tag}", ADMIN, lambda ids: {"name": "Tarde larga"}),
]
WRITES = [endpoint for endpoint in ENDPOINTS if endpoint.method != "GET"]
WITH_IDS = [endpoint for endpoint in ENDPOINTS if "{" in endpoint.path]


@pytest.fixture
def ids(db: Any) -> Ids:
    """One of each team object for the endpoints to act on."""
    user = make_user("tomas", Role.OPERATOR, first_name="Tomás")
    # Assignment-paused, so that resuming it is a change (a no-op writes no audit event).
    operator = Operator.objects.create(
        user=make_user("juan", Role.OPERATOR), chat_capacity=5, assignment_paused=True
    )
    schedule = Schedule.objects.create(
        operator=operator, kind="assignment", weekday=2, start=time(8), end=time(16)
    )
    exception = CalendarException.objects.create(day=date(2026, 12, 31), closed=True)
    return {
        "user": user.pk,
        "operator": operator.pk,
        "schedule": schedule.pk,
        "area": Area.objects.create(name="Soporte").pk,
        "exception": exception.pk,
        "tag": ShiftTag.objects.create(tag="[TT]", name="Tarde").pk,
    }


def client_for(request: Any, person: str) -> Client:
    if person == "anonymous":
        return Client()
    return request.getfixturevalue(f"{person}_client")


def _nothing_changed(ids: Ids) -> None:
    assert not Operator.objects.filter(user_id=ids["user"]).exists()
    assert Operator.objects.get(pk=ids["operator"]).chat_capacity == 5
    assert Schedule.objects.filter(pk=ids["schedule"]).exists()
    assert list(Area.objects.values_list("name", "description")) == [("Soporte", "")]
    assert CalendarException.objects.filter(pk=ids["exception"]).exists()
    assert list(ShiftTag.objects.values_list("tag", "name")) == [("[TT]", "Tarde")]


@pytest.mark.parametrize("person", PEOPLE)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_it_admits_exactly_its_people(request, ids, endpoint, person):
    client = client_for(request, person)
    response = endpoint.call(client, ids)
    if person in endpoint.allowed:
        assert response.status_code == endpoint.ok, response.content
        if endpoint.method != "GET":
            assert AuditEvent.objects.exists()
    elif person == "anonymous":
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
    else:
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    if response.status_code >= 400:
        assert not AuditEvent.objects.exists()
        _nothing_changed(ids)


@pytest.mark.parametrize("endpoint", WITH_IDS, ids=str)
def test_it_answers_404_for_an_unknown_id(admin_client, ids, endpoint):
    unknown = dict.fromkeys(ids, 987654)
    unknown["user"] = ids["user"]
    response = endpoint.call(admin_client, unknown)
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"
    _nothing_changed(ids)


@pytest.mark.parametrize("endpoint", WITH_IDS, ids=str)
def test_it_answers_404_for_an_id_too_large_for_the_database(admin_client, ids, endpoint):
    huge = dict.fromkeys(ids, 2**70)
    huge["user"] = ids["user"]
    response = endpoint.call(admin_client, huge)
    assert response.status_code == 404, response.content


@pytest.mark.parametrize("endpoint", WRITES, ids=str)
def test_it_refuses_a_session_write_without_the_csrf_token(admin, ids, endpoint):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = endpoint.call(client, ids)
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert not AuditEvent.objects.exists()
    _nothing_changed(ids)
