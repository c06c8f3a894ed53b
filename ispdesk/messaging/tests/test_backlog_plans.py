"""In a storm, the hand-over's batch reads the rows it hands over, not the backlog behind them.

PostgreSQL plans from statistics taken before the storm (or none at all, as on a database
autovacuum has not analyzed yet), which say that almost nothing waits. This builds a
backlog in fresh tables, never analyzed, and reads what the statement's plan actually
touched (EXPLAIN ANALYZE, in a transaction rolled back).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from ispdesk.messaging.models import GatewayConnection, InboundMessage
from ispdesk.messaging.pending import waiting_batch
from ispdesk.messaging.tests.sender_support import CUSTOMER

# Collected only on PostgreSQL: they read its plans (EXPLAIN JSON).
__test__ = db_connection.vendor == "postgresql"
pytestmark = pytest.mark.django_db(transaction=True)

BACKLOG = 400
BATCH = 50


def rows_read(sql: str, params: Any = None) -> int:
    """The most rows any one scan of the statement's plan read (kept or filtered out,
    over all its loops), the statement run for real and rolled back."""
    with transaction.atomic():
        with db_connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
            [(plan,)] = cursor.fetchall()
        transaction.set_rollback(True)
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return max(_scanned(plan[0]["Plan"]))


def _scanned(node: dict[str, Any]) -> Iterator[int]:
    if "Scan" in node["Node Type"]:
        per_loop = (
            node["Actual Rows"]
            + node.get("Rows Removed by Filter", 0)
            + node.get("Rows Removed by Index Recheck", 0)
        )
        yield per_loop * node["Actual Loops"]
    for child in node.get("Plans", []):
        yield from _scanned(child)


def test_a_hand_over_batch_reads_its_own_rows_not_the_backlog():
    connection = GatewayConnection.objects.create(kind="simulator", name="Soporte")
    now = timezone.now()
    InboundMessage.objects.bulk_create(
        InboundMessage(
            connection=connection,
            provider_id=f"m{index}",
            chat_id=CUSTOMER,
            phone=CUSTOMER,
            sent_at=now,
            # The older half handed over long ago; the rest wait.
            handed_over_at=now if index < BACKLOG else None,
        )
        for index in range(2 * BACKLOG)
    )
    batch = waiting_batch(BATCH)
    sql, params = batch.query.sql_with_params()

    assert [message.provider_id for message in batch] == [f"m{n}" for n in range(400, 450)]
    assert rows_read(sql, params) <= BATCH
