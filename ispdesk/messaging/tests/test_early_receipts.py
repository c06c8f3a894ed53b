"""A receipt that beats the sender's write of the provider id is kept and applied later."""

from datetime import timedelta
from typing import Any

from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ispdesk.integrations.whatsapp.base import StatusReceipt
from ispdesk.messaging import receiving
from ispdesk.messaging.models import EarlyReceipt, GatewayConnection, OutboundMessage
from ispdesk.messaging.receiving import EARLY_RECEIPTS_PRUNED_EVERY, receive_events
from ispdesk.messaging.sending import record_sent


def claimed_message(db) -> OutboundMessage:  # type: ignore[no-untyped-def]
    connection = GatewayConnection.objects.create(kind="simulator", name="Sim")
    return OutboundMessage.objects.create(
        connection=connection,
        to="+5491123456789",
        body="Hola",
        status="sending",
        next_attempt_at=timezone.now(),
    )


def test_a_delivery_receipt_that_arrives_before_the_id_is_stored_still_counts(db):
    message = claimed_message(db)
    now = timezone.now()
    receive_events(message.connection, [StatusReceipt("X1", "delivered", now)], now=now)
    assert EarlyReceipt.objects.count() == 1

    status = record_sent(message, "X1", now + timedelta(seconds=1))

    message.refresh_from_db()
    assert (status, message.status) == ("delivered", "delivered")
    assert message.delivered_at == now
    assert not EarlyReceipt.objects.exists()


def test_a_message_moved_by_its_early_receipt_is_announced_once(
    db: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # The receipts' status goes out as they are applied; the record adds no copy of it.
    published: list[dict[str, Any]] = []
    monkeypatch.setattr(
        "ispdesk.realtime.events.publish_now", lambda _groups, event: published.append(event)
    )
    message = claimed_message(db)
    now = timezone.now()
    receive_events(message.connection, [StatusReceipt("X3", "read", now)], now=now)

    with django_capture_on_commit_callbacks(execute=True):
        record_sent(message, "X3", now)

    assert published == [{"type": "message:status", "message": message.pk, "status": "read"}]


def test_an_early_failure_is_kept_with_its_reason(db):
    message = claimed_message(db)
    now = timezone.now()
    failed = StatusReceipt("X2", "failed", now, error="window closed", code="131047")
    receive_events(message.connection, [failed], now=now)
    record_sent(message, "X2", now)
    message.refresh_from_db()
    assert message.status == "failed"
    assert "131047" in message.error


def test_early_receipts_nobody_claims_are_pruned_after_a_day_every_few_minutes(db, monkeypatch):
    monkeypatch.setattr(receiving, "_next_prune", None)  # as in a process just started
    message = claimed_message(db)
    now = timezone.now()
    receive_events(message.connection, [StatusReceipt("old", "read", now)], now=now)
    EarlyReceipt.objects.update(created_at=now - timedelta(days=2))
    # Within the interval a delivery of early receipts deletes nothing: one INSERT.
    soon = now + timedelta(minutes=1)
    with CaptureQueriesContext(db_connection) as queries:
        receive_events(message.connection, [StatusReceipt("soon", "read", soon)], now=soon)
    assert not any(query["sql"].startswith("DELETE") for query in queries)
    assert EarlyReceipt.objects.filter(provider_id="old").exists()
    later = now + EARLY_RECEIPTS_PRUNED_EVERY + timedelta(minutes=1)
    receive_events(message.connection, [StatusReceipt("new", "read", later)], now=later)
    assert sorted(EarlyReceipt.objects.values_list("provider_id", flat=True)) == ["new", "soon"]
