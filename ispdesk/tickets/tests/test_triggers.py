"""The counting and stamp triggers exist after `migrate`, and come back when one is lost
(as SQLite loses a table's triggers when a migration rebuilds the table)."""

from __future__ import annotations

import pytest
from django.db import connection

from ispdesk.lib import dbtriggers
from ispdesk.operators import stamp
from ispdesk.operators.models import TeamStamp
from ispdesk.tickets import loads
from ispdesk.tickets.models import OpenTicketCount, Source, Status, Ticket


def test_every_trigger_exists_after_migrate(db):
    for module in (loads, stamp):
        names = set(module.trigger_names(connection))
        assert dbtriggers.existing(connection, names) == names
        assert not module.restore(connection)  # nothing missing: nothing done


@pytest.mark.django_db(transaction=True)  # MariaDB commits around any DDL
def test_lost_triggers_come_back_with_their_counts_and_a_new_stamp(team):
    Ticket.objects.create(
        source=Source.CSV,
        external_id="t-1",
        subject="Corte",
        assignee=team["juan"],
        status=Status.ASSIGNED,
        created_at="2026-11-25T10:00:00Z",
    )
    before = TeamStamp.objects.get().value
    dbtriggers.execute_all(connection, [*loads.drop_sql(connection), *stamp.drop_sql(connection)])
    OpenTicketCount.objects.all().delete()  # what a table rebuilt without triggers would miss

    assert loads.restore(connection) and stamp.restore(connection)

    names = set(loads.trigger_names(connection)) | set(stamp.trigger_names(connection))
    assert dbtriggers.existing(connection, names) == names
    assert dict(OpenTicketCount.objects.values_list("operator_id", "open_tickets")) == {
        team["juan"].pk: 1
    }
    assert TeamStamp.objects.get().value != before
