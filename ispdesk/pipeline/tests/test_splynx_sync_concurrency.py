"""Several workers pushing the same ticket at the same moment create one Splynx ticket.

Workers write their results to files: forked workers share no memory with the test (the fake
Splynx keeps serving from the test's process, so its records are the truth).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.pipeline.splynx_sync import push_ticket
from ispdesk.testing.fakes.splynx import FakeSplynx, serving_fake_splynx
from ispdesk.testing.workers import run_workers
from ispdesk.tickets.actions import NewTicket, do_create_ticket
from ispdesk.tickets.models import EventKind, Source, Ticket, TicketEvent


@pytest.fixture
def fake_splynx() -> Iterator[FakeSplynx]:
    with serving_fake_splynx() as fake:
        yield fake


def _push(barrier: Any, result_file: Path, ticket_id: int, fake: FakeSplynx) -> None:
    try:
        # Separate processes signing with one API key may send equal nonces (each keeps
        # its own counter), which Splynx refuses: these workers log in with tokens.
        client = fake.client("admin")
        barrier.wait(timeout=30)
        result_file.write_text(json.dumps(asdict(push_ticket(ticket_id, client=client))))
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_three_workers_pushing_one_ticket_create_it_once(
    tmp_path: Path, fake_splynx: FakeSplynx
) -> None:
    ExternalSystem.objects.update_or_create(kind=SystemKind.SPLYNX, defaults={"enabled": True})
    ticket, _created = do_create_ticket(
        None,
        NewTicket(
            subject="Sin servicio", body="Sin internet", source=Source.GESTIONREAL, external_id="77"
        ),
        auto_assign=False,
    )
    files = [tmp_path / f"{name}.json" for name in "abc"]

    run_workers(_push, [(path, ticket.pk, fake_splynx) for path in files])

    results = [json.loads(path.read_text()) for path in files]
    assert len(fake_splynx.tickets) == 1
    assert len(fake_splynx.messages) == 1
    assert [result["error"] for result in results] == ["", "", ""]
    assert sum(result["created"] for result in results) == 1
    ticket.refresh_from_db()
    assert ticket.splynx_ticket_id == int(next(iter(fake_splynx.tickets)))
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.SYNCED).count() == 1
    assert Ticket.objects.count() == 1
