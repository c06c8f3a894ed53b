"""Migrations 0005/0006 on a database where two tickets share a Splynx ticket: one keeps the
link (the ticket imported from Splynx, else the oldest), the others are unlinked with a note
in their history, and from then on the table refuses a second link."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from ispdesk.tickets.models import EventKind, Ticket

BEFORE = [("tickets", "0004_splynx_held")]


@pytest.fixture
def at_0004(transactional_db: Any, settings: Any) -> Iterator[Any]:
    """The historical apps at 0004; the schema goes back to the latest afterwards."""
    settings.LANGUAGE_CODE = "en"
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        yield executor.loader.project_state(BEFORE).apps
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_shared_links_are_untangled_and_a_second_link_is_refused(at_0004: Any) -> None:
    Old = at_0004.get_model("tickets", "Ticket")
    now = timezone.now()

    def old_ticket(source: str, external_id: str, splynx_id: int | None, **fields: Any) -> int:
        row = Old.objects.create(
            source=source,
            external_id=external_id,
            subject="Sin servicio",
            created_at=now,
            splynx_ticket_id=splynx_id,
            **fields,
        )
        return int(row.pk)

    oldest = old_ticket("gestionreal", "1", 1000)
    later = old_ticket(
        "gestionreal", "2", 1000, splynx_assigned_to=2, splynx_error="Splynx failed."
    )
    pushed = old_ticket("gestionreal", "3", 2000)
    native = old_ticket("splynx", "2000", 2000)  # imported from Splynx: the link is its own
    alone = old_ticket("gestionreal", "4", 3000)
    unlinked = old_ticket("gestionreal", "5", None)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    links = dict(Ticket.objects.values_list("pk", "splynx_ticket_id"))
    assert links == {
        oldest: 1000,
        later: None,
        pushed: None,
        native: 2000,
        alone: 3000,
        unlinked: None,
    }
    untangled = Ticket.objects.get(pk=later)
    assert (untangled.splynx_assigned_to, untangled.splynx_error) == (None, "")
    assert [e.text for e in untangled.events.filter(kind=EventKind.SYNCED)] == [
        f"Unlinked from Splynx ticket 1000: ticket #{oldest} was linked to it as well and keeps it."
    ]
    assert (
        Ticket.objects.get(pk=pushed)
        .events.get()
        .text.endswith(f"#{native} was linked to it as well and keeps it.")
    )
    assert not Ticket.objects.get(pk=oldest).events.exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=unlinked).update(splynx_ticket_id=3000)
    # Any number of tickets may still be unlinked.
    Ticket.objects.filter(pk=alone).update(splynx_ticket_id=None)
    assert Ticket.objects.filter(splynx_ticket_id__isnull=True).count() == 4
