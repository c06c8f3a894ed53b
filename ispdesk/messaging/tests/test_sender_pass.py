"""A sender pass reads its due messages once, claims them in one statement and sends each
with a record, each statement committing on its own (no transaction per message)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ispdesk.integrations.whatsapp.base import StatusReceipt
from ispdesk.messaging import sender
from ispdesk.messaging.claims import claim_message
from ispdesk.messaging.models import (
    EarlyReceipt,
    GatewayConnection,
    OutboundMessage,
    OutboundStatus,
)
from ispdesk.messaging.receiving import receive_events
from ispdesk.messaging.sender import due_rows, send_due_messages
from ispdesk.messaging.sending import deliver
from ispdesk.messaging.settings_keys_outbox import OUTBOX_CLAIM_LEASE_SECONDS
from ispdesk.messaging.tests.scripted_gateway import SCRIPTS, Script
from ispdesk.messaging.tests.sender_support import make_connection, queue, reloaded
from ispdesk.system.models import SystemConfig

# Committed work, as the sender loop runs it: outside any transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_pass_costs_a_claim_per_five_rows_and_a_record_per_message(script):
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
    # The listing, a claim per five rows (which also checks the connection is as listed),
    # a record per message, then one early-receipt check for the pass.
    assert len(sql) == 1 + 2 + 6 + 1, statements
    assert statements == ["SELECT", *["UPDATE"] * 8, "SELECT"]
    assert "messaging_gatewayconnection" in sql[1]
    assert "messaging_gatewayconnection" in sql[7]  # the sixth row's claim
    assert "messaging_earlyreceipt" in sql[-1]


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


def switch_off_on_send(script: Script, connection: GatewayConnection) -> None:
    def switch_off(sent: Any) -> None:
        # An administrator disables the number while the pass is sending.
        GatewayConnection.objects.filter(pk=connection.pk).update(enabled=False)

    script.on_send = switch_off


def test_what_a_pass_claimed_before_a_connection_was_switched_off_still_goes(script):
    connection = make_connection(script)
    messages = queue(connection, 3)
    switch_off_on_send(script, connection)

    result = send_due_messages("worker-1")

    # Claimed together before the switch, sent within the claim's freshness window; the
    # next pass reads the connection again.
    assert dict(result.outcomes) == {"sent": 3}
    assert [reloaded(m).status for m in messages] == ["sent"] * 3
    assert send_due_messages("worker-1").listed == 0


class Clock:
    """The sender's clock for how fresh a claim is; `later()` moves it past freshness."""

    def __init__(self, monkeypatch: Any) -> None:
        self.now = 1000.0
        monkeypatch.setattr(sender, "_clock", lambda: self.now)

    def later(self) -> None:
        self.now += sender.CLAIM_AHEAD_SECONDS + 1


def test_a_connection_switched_off_sends_no_more_once_the_claim_is_not_fresh(script, monkeypatch):
    connection = make_connection(script)
    messages = queue(connection, 3)
    clock = Clock(monkeypatch)

    def slow_then_off(sent: Any) -> None:
        # A slow send, and an administrator disables the number meanwhile.
        clock.later()
        GatewayConnection.objects.filter(pk=connection.pk).update(enabled=False)

    script.on_send = slow_then_off

    result = send_due_messages("worker-1")

    # The other two are given back (their claim's attempt undone) and claimed one at a time,
    # each against the connection as it is now: switched off, so neither is sent. The next
    # pass reads the connection again and fails them.
    assert len(script.sends) == 1
    assert dict(result.outcomes) == {"sent": 1, "released": 2, "taken": 2}
    assert [reloaded(m).status for m in messages] == ["sent", "queued", "queued"]
    assert [reloaded(m).attempts for m in messages] == [1, 0, 0]
    assert [reloaded(m).claimed_by for m in messages][1:] == ["", ""]
    assert dict(send_due_messages("worker-1").outcomes) == {"failed": 2}
    assert len(script.sends) == 1
    assert [reloaded(m).status for m in messages] == ["sent", "failed", "failed"]
    assert [reloaded(m).attempts for m in messages] == [1, 1, 1]


def test_a_connection_saved_mid_pass_is_read_again_once_the_claim_is_not_fresh(script, monkeypatch):
    connection = make_connection(script)
    messages = queue(connection, 2)
    other = Script()
    monkeypatch.setitem(SCRIPTS, other.name, other)
    clock = Clock(monkeypatch)

    def point_elsewhere(sent: Any) -> None:
        # An administrator saves new settings (here: another gateway) mid-pass.
        clock.later()
        saved = GatewayConnection.objects.get(pk=connection.pk)
        saved.config = other.config()
        saved.save()

    script.on_send = point_elsewhere

    assert dict(send_due_messages("worker-1").outcomes) == {"sent": 1, "released": 1, "taken": 1}
    assert dict(send_due_messages("worker-1").outcomes) == {"sent": 1}
    assert [reloaded(m).status for m in messages] == ["sent", "sent"]
    assert (script.texts(), other.texts()) == (["mensaje 0"], ["mensaje 1"])


def test_a_claim_that_expired_behind_slow_sends_is_never_sent_twice(script, monkeypatch):
    free = make_connection(script, rate_per_second=0)
    paced = make_connection(script, rate_per_second=1)
    [first] = queue(free, 1)
    [slow] = queue(paced, 1)
    [held] = queue(free, 1)
    clock = Clock(monkeypatch)
    lease = timedelta(seconds=120)
    sends = iter(range(10))

    def slow_send(sent: Any) -> None:
        if next(sends) == 1:  # the paced one
            # It took so long that the held row's claim expired; another worker took it
            # and sent it.
            clock.now += lease.total_seconds() + 5
            later = timezone.now() + lease + timedelta(seconds=5)
            assert deliver(held.pk, "worker-2", now=later).outcome == "sent"

    script.on_send = slow_send

    result = send_due_messages("worker-1")

    assert [reloaded(m).status for m in (first, slow, held)] == ["sent"] * 3
    assert len(script.sends) == 3  # each once: the held row by worker-2 alone
    assert dict(result.outcomes) == {"sent": 2, "taken": 1}
    assert reloaded(held).attempts == 2  # worker-1's claim, then worker-2's


def test_a_stale_row_another_worker_is_still_sending_is_neither_released_nor_resent(
    script, monkeypatch
):
    free = make_connection(script, rate_per_second=0)
    paced = make_connection(script, rate_per_second=1)
    queue(free, 1)
    queue(paced, 1)
    [held] = queue(free, 1)
    clock = Clock(monkeypatch)
    lease = timedelta(seconds=120)
    sends = iter(range(10))

    def slow_send(sent: Any) -> None:
        if next(sends) == 1:  # the paced one, so slow that the held claim expired
            clock.now += lease.total_seconds() + 5
            later = timezone.now() + lease + timedelta(seconds=5)
            # Another worker takes the row again and is sending it (nothing recorded yet).
            assert claim_message(held.pk, "worker-2", later, lease)

    script.on_send = slow_send

    result = send_due_messages("worker-1")

    row = reloaded(held)
    assert (row.status, row.claimed_by, row.attempts) == ("sending", "worker-2", 2)
    assert len(script.sends) == 2
    assert dict(result.outcomes) == {"sent": 2, "taken": 1}


def test_a_claim_ahead_that_fails_leaves_the_pass_to_claim_row_by_row(script, monkeypatch):
    connection = make_connection(script)
    messages = queue(connection, 7)
    real = sender.claim_listed
    calls = iter(range(10))

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if next(calls) == 1:  # the second five
            raise OperationalError("database is locked")
        return real(*args, **kwargs)

    monkeypatch.setattr(sender, "claim_listed", flaky)

    result = send_due_messages("worker-1")

    assert dict(result.outcomes) == {"sent": 7}
    assert [reloaded(m).status for m in messages] == ["sent"] * 7
    assert [reloaded(m).attempts for m in messages] == [1] * 7


def test_a_claim_ahead_is_as_old_as_the_wait_for_its_statement(script, monkeypatch):
    connection = make_connection(script)
    messages = queue(connection, 2)
    clock = Clock(monkeypatch)
    real = sender.claim_listed

    def slow_claim(*args: Any, **kwargs: Any) -> Any:
        clock.later()  # the statement waited (a lock) longer than a claim stays fresh
        return real(*args, **kwargs)

    monkeypatch.setattr(sender, "claim_listed", slow_claim)

    result = send_due_messages("worker-1")

    # Not used: given back and claimed again, one row at a time.
    assert dict(result.outcomes) == {"sent": 2, "released": 2}
    assert [reloaded(m).attempts for m in messages] == [1, 1]


def test_claiming_ahead_needs_a_lease_of_twice_a_sends_allowance():
    assert sender.CLAIM_AHEAD_MIN_LEASE_SECONDS >= 2 * sender.SEND_ALLOWANCE_SECONDS
    default = OUTBOX_CLAIM_LEASE_SECONDS.default
    assert default >= sender.CLAIM_AHEAD_MIN_LEASE_SECONDS
    assert f"{sender.CLAIM_AHEAD_MIN_LEASE_SECONDS} s" in str(
        OUTBOX_CLAIM_LEASE_SECONDS.description
    )


def test_a_lease_too_short_to_cover_a_send_claims_one_row_at_a_time(script):
    connection = make_connection(script)
    messages = queue(connection, 3)
    # Shorter than claiming ahead needs (a send, waits, and the freshness on top).
    SystemConfig.objects.create(key="outbox_claim_lease_seconds", value=60)

    with CaptureQueriesContext(db_connection) as queries:
        result = send_due_messages("worker-1")

    assert dict(result.outcomes) == {"sent": 3}
    assert [reloaded(m).status for m in messages] == ["sent"] * 3
    updates = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 6  # a claim and a record per message


def test_rows_another_worker_claimed_between_the_listing_and_the_claim_are_left_to_it(
    script, monkeypatch
):
    connection = make_connection(script)
    messages = queue(connection, 3)
    listed = sender.due_rows

    def listed_then_taken(now: Any, limit: int) -> list[OutboundMessage]:
        rows = listed(now, limit)
        # Another worker claims the second one after this pass read it.
        assert claim_message(messages[1].pk, "worker-2", now, timedelta(seconds=60))
        return rows

    monkeypatch.setattr(sender, "due_rows", listed_then_taken)

    with CaptureQueriesContext(db_connection) as queries:
        result = send_due_messages("worker-1")

    assert dict(result.outcomes) == {"sent": 2, "taken": 1}
    assert script.texts() == ["mensaje 0", "mensaje 2"]
    assert reloaded(messages[1]).claimed_by == "worker-2"
    # Fewer rows changed than listed: the held ones were read back, by the claim's expiry.
    wheres = [q["sql"].split("WHERE", 1)[-1] for q in queries if q["sql"].startswith("SELECT")]
    assert len([where for where in wheres if "claimed_by" in where]) == 1


def test_a_loop_pass_sends_its_status_events_in_bundles(script, monkeypatch):
    from ispdesk.messaging.sender import SenderLoop
    from ispdesk.realtime import events

    connection = make_connection(script)
    messages = queue(connection, 3)
    bundles: list[list[tuple[str, int]]] = []

    def record(collected: list[tuple[list[str], dict[str, Any], int]]) -> None:
        if collected:
            bundles.append([(event["status"], event["message"]) for _g, event, _id in collected])

    monkeypatch.setattr(events, "_send_bundles", record)
    monkeypatch.setattr(events, "_clock", lambda: 0.0)  # the pass never outlives its window

    SenderLoop(worker="worker-1").run_once()

    assert bundles == [[("sent", message.pk) for message in messages]]


def test_receipts_that_beat_a_pass_s_records_are_applied_when_it_ends(script):
    connection = make_connection(script)
    messages = queue(connection, 3)

    def receipt_first(sent: Any) -> None:
        # The gateway fires the delivery receipt before it answers our request.
        if sent.text != "mensaje 1":
            receipt = StatusReceipt(sent.provider_id, "delivered", timezone.now())
            receive_events(connection, [receipt], now=timezone.now())

    script.on_send = receipt_first

    with CaptureQueriesContext(db_connection) as queries:
        assert send_due_messages("worker-1").outcomes["sent"] == 3

    assert [reloaded(m).status for m in messages] == ["delivered", "sent", "delivered"]
    assert not EarlyReceipt.objects.exists()
    checks = [
        q for q in queries if q["sql"].startswith("SELECT") and "messaging_earlyreceipt" in q["sql"]
    ]
    assert len(checks) == 1 + 2  # the pass's one check, then each message's own under its lock


def test_receipts_a_stopped_pass_left_behind_are_applied_by_the_next_sweep(script):
    from ispdesk.messaging.sender import SenderLoop

    connection = make_connection(script)
    [message] = queue(connection)
    # The gateway's receipt beat our record, and the pass died before its receipt check.
    OutboundMessage.objects.filter(pk=message.pk).update(status="sent", provider_id="wamid.X")
    EarlyReceipt.objects.create(
        connection=connection, provider_id="wamid.X", status="read", at=timezone.now()
    )
    loop = SenderLoop(worker="worker-1")

    loop.run_once()

    assert reloaded(message).status == "read"
    assert not EarlyReceipt.objects.exists()
    assert loop.next_sweep > 0  # not again on every pass


def test_one_message_s_receipts_failing_to_apply_leave_the_others_to_apply(script, monkeypatch):
    from ispdesk.messaging import receiving
    from ispdesk.messaging.sending import apply_waiting_receipts

    connection = make_connection(script)
    first, second = queue(connection, 2)
    for message, provider_id in ((first, "id-1"), (second, "id-2")):
        OutboundMessage.objects.filter(pk=message.pk).update(status="sent", provider_id=provider_id)
        EarlyReceipt.objects.create(
            connection=connection, provider_id=provider_id, status="delivered", at=timezone.now()
        )
    real = receiving.apply_early_receipts

    def broken_for_the_first(pk: int, now: Any) -> None:
        if pk == first.pk:
            raise RuntimeError("boom")
        real(pk, now)

    monkeypatch.setattr(receiving, "apply_early_receipts", broken_for_the_first)
    sent = [(first.pk, connection.pk, "id-1"), (second.pk, connection.pk, "id-2")]

    assert apply_waiting_receipts(sent, timezone.now()) == 2

    assert (reloaded(first).status, reloaded(second).status) == ("sent", "delivered")


def test_an_id_two_messages_were_given_names_the_first_one_recorded(script):
    from ispdesk.messaging.sending import apply_waiting_receipts

    connection = make_connection(script)
    first, second = queue(connection, 2)
    OutboundMessage.objects.filter(pk=first.pk).update(status="sent", provider_id="dup")
    OutboundMessage.objects.filter(pk=second.pk).update(status="sent")  # flagged: no id
    EarlyReceipt.objects.create(
        connection=connection, provider_id="dup", status="delivered", at=timezone.now()
    )

    apply_waiting_receipts(
        [(first.pk, connection.pk, "dup"), (second.pk, connection.pk, "dup")], timezone.now()
    )

    assert (reloaded(first).status, reloaded(second).status) == ("delivered", "sent")
