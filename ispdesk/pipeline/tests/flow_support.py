"""Shared setup of the ticket-flow tests: a fake Gestión Real and a fake Splynx over real
HTTP, both configured in their settings rows as an admin would (so the jobs build their own
clients), two operators mapped to the fake Splynx's administrators, and the WhatsApp
simulator as the connection that carries their notices."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from ispdesk.integrations.gestionreal.mapping import ARGENTINA
from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.jobs.runner import ensure_schedules, run_due_jobs
from ispdesk.messaging.models import GatewayConnection, OutboundMessage
from ispdesk.operators.models import Operator, Schedule, ScheduleKind
from ispdesk.operators.tests.conftest import make_operator
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.testing.fakes.gestionreal import (
    CUIT,
    SECRET,
    FakeGestionReal,
    serving_fake_gestionreal,
)
from ispdesk.testing.fakes.splynx import API_KEY, API_SECRET, FakeSplynx, serving_fake_splynx
from ispdesk.tickets.models import Ticket

ANA_PHONE = "+5491155550001"
JUAN_PHONE = "+5491155550002"
TICKETS = "admin/support/tickets"
CSV_FIXTURE = Path(__file__).parents[2] / "integrations/gestionreal/tests/fixtures/casos_export.csv"
OPEN_10234 = ";Sin se&ntilde;al desde ayer;Abierto;"


def with_10234_as(state: str) -> bytes:
    """The fixture export with case 10234 in `state`."""
    text = CSV_FIXTURE.read_bytes().decode("latin-1")
    assert OPEN_10234 in text
    return text.replace(OPEN_10234, OPEN_10234.replace("Abierto", state)).encode("latin-1")


@dataclass
class Desk:
    gestionreal: FakeGestionReal
    splynx: FakeSplynx
    ana: Operator
    juan: Operator

    def caso(self, login: str, subject: str, **fields: Any) -> dict[str, Any]:
        """A case at the source whose customer exists in Splynx with `login`."""
        self.splynx.add_customer(name=f"Cliente {login}", login=login)
        # Stamped now (Argentina time), so every run of a test reads it even near midnight.
        stamp = datetime.now(ARGENTINA).strftime("%d-%m-%Y %H:%M:%S")
        values = {"fecha_creacion": stamp, "ultima_modif": stamp, **fields}
        return self.gestionreal.add_caso(cliente_id=login, asunto=subject, **values)

    def splynx_ticket(self, ticket: Ticket) -> dict[str, str]:
        ticket.refresh_from_db()
        assert ticket.splynx_ticket_id is not None
        return self.splynx.tickets[ticket.splynx_ticket_id]

    def creates(self) -> int:
        return len(self.splynx.requests_to(TICKETS, "POST"))


def configure_gestionreal(fake: FakeGestionReal, **config: Any) -> ExternalSystem:
    system, _created = ExternalSystem.objects.update_or_create(
        kind=SystemKind.GESTIONREAL,
        defaults={
            "enabled": True,
            "config": {"mode": "api", "base_url": fake.url + "/", "cuit": CUIT, **config},
            "secrets": {"secret": SECRET},
        },
    )
    return system


def configure_splynx(fake: FakeSplynx, *, enabled: bool = True) -> ExternalSystem:
    system, _created = ExternalSystem.objects.update_or_create(
        kind=SystemKind.SPLYNX,
        defaults={
            "enabled": enabled,
            "config": {
                "base_url": fake.url,
                "auth_type": "api_key",
                "mappings": {
                    "statuses": {},
                    "new_status_id": 1,
                    "resolved_status_id": 3,
                    "default_group_id": 1,
                    "default_type_id": 1,
                },
            },
            "secrets": {"api_key": API_KEY, "api_secret": API_SECRET},
        },
    )
    return system


def on_shift(operator: Operator) -> Operator:
    """Assignable at any hour (24-hour windows every day)."""
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


@pytest.fixture(name="desk")
def desk_fixture(db: Any, settings: Any) -> Iterator[Desk]:
    settings.LANGUAGE_CODE = "es-ar"
    settings.TIME_ZONE = "America/Argentina/Buenos_Aires"
    GatewayConnection.objects.create(kind="simulator", name="Simulador", is_default=True)
    # The fake Splynx's administrators 1 and 2 are Ana and Juan.
    ana = on_shift(make_operator("ana2", "Ana", person_id=1, whatsapp="+54 9 11 5555-0001"))
    juan = on_shift(make_operator("juan", "Juan", person_id=2, whatsapp="+54 9 11 5555-0002"))
    with serving_fake_gestionreal() as gestionreal, serving_fake_splynx() as splynx:
        configure_gestionreal(gestionreal)
        configure_splynx(splynx)
        yield Desk(gestionreal, splynx, ana, juan)


def messages_to(phone: str) -> list[OutboundMessage]:
    return list(OutboundMessage.objects.filter(to=phone).order_by("pk"))


def gestionreal_config() -> dict[str, Any]:
    return dict(ExternalSystem.objects.get(kind=SystemKind.GESTIONREAL).config)


def only_job(name: str) -> JobSchedule:
    """The job's schedule, every other job switched off."""
    ensure_schedules()
    JobSchedule.objects.exclude(name=name).update(enabled=False)
    JobSchedule.objects.filter(name=name).update(enabled=True)
    return JobSchedule.objects.get(name=name)


def run_scheduled(name: str, now: Any) -> JobRun | None:
    """Make the job (alone) due just before `now` and let a worker run what is due."""
    only_job(name)
    JobSchedule.objects.filter(name=name).update(
        next_run_at=now - timedelta(seconds=1), run_requested_at=None
    )
    runs = run_due_jobs("test-worker", now=now)
    assert len(runs) <= 1
    return runs[0] if runs else None
