"""A sender pass reads its due messages once and sends each with a claim and a record, each
statement committing on its own (no transaction per message)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ispdesk.messaging.models import GatewayConnection, OutboundMessage, OutboundStatus
from ispdesk.messaging.sender import due_rows, send_due_messages
from ispdesk.messaging.sending import deliver
from ispdesk.messaging.tests.sender_support import make_connection, queue, reloaded

# Committed work, as the sender loop runs it: outside any transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_pass_costs_a_claim_a_connection_read_a_record_and_a_receipt_check_per_message(
    script,
):
    connection = make_connection(script)
    messages = queue(connection, 6)

    with CaptureQueriesContext(db_connection) as queries:
        result = send_due_messages("worker-1")

    assert result.outcomes["sent"] == 6
    assert [reloaded(m).status for m in messages] == [OutboundStatus.SENT] * 6
    assert [send.text for send in script.sends] == [f"mensaje {n}" for n in range(6)]
    # (The business settings are read once per process, whenever that happens.)
    sql = [query["sql"] for query in queries if "system_systemconfig" not in query["sql"]]
    statements = [text.split()[0].upper() for text in sql]
    assert "BEGIN" not in statements and "SAVEPOINT" not in statements
    # The listing, then per message: the claim, its connection (read again: it may have
    # been switched off meanwhile), the record, the early-receipt check.
    assert len(sql) == 1 + 6 * 4, statements


def test_a_row_changed_since_the_pass_read_it_is_left_to_the_next_pass(script):
    connection = make_connection(script)
    [message] = queue(connection)
    [listed] = due_rows(timezone.now(), 10)
    # Another worker claimed it meanwhile, failed, and queued it again.
    OutboundMessage.objects.filter(pk=message.pk).update(attempts=1)

    delivery = deliver(message.pk, "worker-1", listed=listed)

    assert delivery.outcome == "taken"
    assert script.sends == []
    assert reloaded(message).status == OutboundStatus.QUEUED
    assert send_due_messages("worker-1").outcomes["sent"] == 1
    assert reloaded(message).attempts == 2


def test_a_connection_switched_off_mid_pass_sends_no_more(script):
    connection = make_connection(script)
    messages = queue(connection, 3)

    def switch_off(sent: Any) -> None:
        # An administrator disables the number while the pass is sending.
        GatewayConnection.objects.filter(pk=connection.pk).update(enabled=False)

    script.on_send = switch_off

    result = send_due_messages("worker-1")

    assert len(script.sends) == 1
    assert dict(result.outcomes) == {"sent": 1, "failed": 2}
    assert [reloaded(m).status for m in messages] == ["sent", "failed", "failed"]


def test_a_loop_pass_sends_its_status_events_in_bundles(script, monkeypatch):
    from ispdesk.messaging.sender import SenderLoop
    from ispdesk.realtime import events

    connection = make_connection(script)
    messages = queue(connection, 3)
    bundles: list[list[tuple[str, int]]] = []

    def record(collected: list[tuple[list[str], dict[str, Any]]]) -> None:
        if collected:
            bundles.append([(event["status"], event["message"]) for _g, event in collected])

    monkeypatch.setattr(events, "_send_bundles", record)
    monkeypatch.setattr(events, "_clock", lambda: 0.0)  # the pass never outlives its window

    SenderLoop(worker="worker-1").run_once()

    assert bundles == [[("sent", message.pk) for message in messages]]
