"""The sender: claims, retries, failures, rate limits, the 24-hour window, receipts that beat
the sent update, and the loop (two workers, waking, stopping).

Most tests drive `deliver` with a fixed `now` against the scripted in-memory gateway; the
Cloud API's window runs against the local Graph API (`graph`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from ispdesk.integrations.whatsapp.base import GatewayError
from ispdesk.lib import wakeups
from ispdesk.lib.wakeups import HAND_OVER, SENDER
from ispdesk.messaging import sender
from ispdesk.messaging.models import (
    GatewayConnection,
    OutboundMessage,
    OutboundStatus,
    Purpose,
)
from ispdesk.messaging.outbox import queue_message
from ispdesk.messaging.sender import SenderLoop, due_messages, next_due_at, send_due_messages
from ispdesk.messaging.sending import Delivery, deliver
from ispdesk.messaging.tests.scripted_gateway import ScriptedGateway
from ispdesk.messaging.tests.sender_support import (
    CUSTOMER,
    make_connection,
    queue,
    reloaded,
    transient,
)
from ispdesk.system.config import clear_config_cache
from ispdesk.system.models import SystemConfig
from ispdesk.testing.sockets import wait_until

TIMEOUT = 30
SECOND = timedelta(seconds=1)


def set_config(key: str, value: Any) -> None:
    SystemConfig.objects.update_or_create(key=key, defaults={"value": value})
    clear_config_cache()


def statuses() -> set[str]:
    return set(OutboundMessage.objects.values_list("status", flat=True))


def run_in_threads(
    count: int, target: Callable[[int], object], barriers: Sequence[threading.Barrier] = ()
) -> list[BaseException]:
    """Run `target(index)` in `count` threads with their own connections; return errors."""
    errors: list[BaseException] = []

    def body(index: int) -> None:
        try:
            target(index)
        except BaseException as exc:
            errors.append(exc)
            for barrier in barriers:
                barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=body, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a worker thread hung"
    return errors


# --- sending ----------------------------------------------------------------------------------


def test_it_sends_a_queued_message_and_records_the_gateways_id(db, script):
    connection = make_connection(script)
    [message] = queue(connection)
    now = timezone.now()

    delivery = deliver(message.pk, "worker-1", now=now)

    message = reloaded(message)
    assert delivery.outcome == "sent"
    assert [(sent.to, sent.text) for sent in script.sends] == [(CUSTOMER, "mensaje 0")]
    assert message.status == OutboundStatus.SENT
    assert message.provider_id == script.sends[0].provider_id
    assert message.sent_at == now
    assert message.attempts == 1
    assert (message.claimed_by, message.claim_expires_at, message.error) == ("", None, "")


def test_it_sends_media_with_the_body_as_caption_and_replies_quoting(db, script):
    connection = make_connection(script)
    photo = queue_message(
        CUSTOMER, "la factura", connection=connection, media_url="https://isp.example/f.pdf"
    )
    reply = queue_message(CUSTOMER, "¡Hola!", connection=connection, quoted_id="wamid.in.1")

    deliver(photo.pk, "worker")
    deliver(reply.pk, "worker")

    assert [(s.text, s.media_url, s.quoted_id) for s in script.sends] == [
        ("la factura", "https://isp.example/f.pdf", ""),
        ("¡Hola!", "", "wamid.in.1"),
    ]


def test_it_stores_no_provider_id_when_the_gateway_gave_none(db, script, monkeypatch):
    # Evolution may accept a message without a key.id: "" would collide in the unique index.
    connection = make_connection(script)
    first, second = queue(connection, 2)
    monkeypatch.setattr(
        ScriptedGateway,
        "send_text",
        lambda self, to, text, quoted_id="": type(script.send(to, text))(""),
    )

    outcomes = [deliver(first.pk, "worker").outcome, deliver(second.pk, "worker").outcome]

    assert outcomes == ["sent", "sent"]
    assert [reloaded(m).provider_id for m in (first, second)] == [None, None]


def test_it_tells_admins_and_the_messages_groups_about_its_status(
    db, script, monkeypatch, django_capture_on_commit_callbacks
):
    published: list[tuple[list[str], dict[str, Any]]] = []
    monkeypatch.setattr(
        "ispdesk.realtime.events.publish_now",
        lambda groups, event: published.append((list(groups), event)),
    )
    connection = make_connection(script)
    [message] = queue(connection, context={"groups": ["conversation.7"], "ticket": 3})

    with django_capture_on_commit_callbacks(execute=True):
        deliver(message.pk, "worker")

    assert published == [
        (
            ["role.admin", "conversation.7"],
            {"type": "message:status", "message": message.pk, "status": "sent"},
        )
    ]


def test_it_logs_one_line_per_send_without_the_body(db, script, caplog):
    connection = make_connection(script, name="Evolution Soporte")
    message = queue_message(CUSTOMER, "clave wifi: hunter2", connection=connection)

    with caplog.at_level(logging.INFO, logger="ispdesk.messaging.sending"):
        deliver(message.pk, "worker")

    lines = [record.getMessage() for record in caplog.records]
    assert lines == [f"message {message.pk} via Evolution Soporte (attempt 1): sent"]
    assert "hunter2" not in caplog.text
    assert CUSTOMER not in caplog.text


# --- failures and retries ---------------------------------------------------------------------


def test_it_retries_a_transient_failure_with_growing_backoff_then_sends(db, script):
    connection = make_connection(script)
    [message] = queue(connection)
    script.fail_next(transient(), transient(), transient())
    when = timezone.now()
    waits = []

    for _attempt in range(3):
        assert deliver(message.pk, "worker", now=when, jitter=lambda: 0).outcome == "retry"
        message = reloaded(message)
        assert message.status == OutboundStatus.QUEUED
        assert message.error == "Evolution API failed (502): bad gateway"
        assert (message.claimed_by, message.claim_expires_at) == ("", None)
        waits.append(message.next_attempt_at - when)
        early = message.next_attempt_at - timedelta(microseconds=1)
        assert deliver(message.pk, "worker", now=early).outcome == "taken"
        when = message.next_attempt_at
    delivery = deliver(message.pk, "worker", now=when)

    message = reloaded(message)
    assert waits == [10 * SECOND, 20 * SECOND, 40 * SECOND]  # the default base: 10 s
    assert delivery.outcome == "sent"
    assert (message.status, message.attempts, message.error) == ("sent", 4, "")
    assert len(script.sends) == 1


def test_it_uses_the_configured_backoff(db, script):
    set_config("outbox_backoff_base_seconds", 3)
    set_config("outbox_backoff_max_seconds", 5)
    connection = make_connection(script)
    [message] = queue(connection)
    script.fail_next(transient(), transient())
    when = timezone.now()

    deliver(message.pk, "worker", now=when, jitter=lambda: 0)
    first = reloaded(message).next_attempt_at
    deliver(message.pk, "worker", now=first, jitter=lambda: 0)
    second = reloaded(message).next_attempt_at

    assert (first - when, second - first) == (3 * SECOND, 5 * SECOND)


def test_it_waits_as_long_as_the_gateway_asks(db, script):
    connection = make_connection(script)
    [message] = queue(connection)
    script.fail_next(GatewayError("rate limited", permanent=False, retry_after=300))
    now = timezone.now()

    deliver(message.pk, "worker", now=now, jitter=lambda: 0)

    assert reloaded(message).next_attempt_at == now + 300 * SECOND


def test_it_marks_a_message_failed_after_the_retry_limit(db, script):
    set_config("outbox_max_attempts", 3)
    connection = make_connection(script)
    [message] = queue(connection)
    script.fail_next(*[transient("Evolution API: timed out")] * 5)
    when = timezone.now()
    outcomes = []

    for _attempt in range(3):
        outcomes.append(deliver(message.pk, "worker", now=when).outcome)
        when = reloaded(message).next_attempt_at + SECOND

    message = reloaded(message)
    assert outcomes == ["retry", "retry", "failed"]
    assert message.status == OutboundStatus.FAILED
    assert message.error == "gave up after 3 attempts: Evolution API: timed out"
    assert message.failed_at is not None
    assert message.attempts == 3
    assert deliver(message.pk, "worker", now=when + timedelta(days=1)).outcome == "taken"
    assert len(script.failures) == 2  # no fourth try


def test_it_fails_a_permanent_error_at_once_with_its_reason(db, script):
    connection = make_connection(script)
    [message] = queue(connection)
    reason = "Evolution API: the number has no WhatsApp: 5491100000000"
    script.fail_next(GatewayError(reason, permanent=True, code="unknown_number", status=400))
    now = timezone.now()

    delivery = deliver(message.pk, "worker", now=now)

    message = reloaded(message)
    assert delivery.outcome == "failed"
    assert (message.status, message.error, message.failed_at) == ("failed", reason, now)
    assert (message.attempts, message.claimed_by) == (1, "")


def test_it_retries_when_the_adapter_breaks_unexpectedly(db, script):
    connection = make_connection(script)
    [message] = queue(connection)
    script.fail_next(RuntimeError("adapter bug"))

    delivery = deliver(message.pk, "worker")

    message = reloaded(message)
    assert delivery.outcome == "retry"
    assert message.status == OutboundStatus.QUEUED
    assert message.error == "unexpected error: RuntimeError: adapter bug"


def test_it_fails_messages_of_a_disabled_connection_without_calling_the_gateway(db, script):
    connection = make_connection(script, name="Ventas", enabled=False)
    [message] = queue(connection)

    delivery = deliver(message.pk, "worker")

    message = reloaded(message)
    assert delivery.outcome == "failed"
    assert message.error == "the WhatsApp connection 'Ventas' is disabled"
    assert script.sends == []


def test_it_fails_a_connection_with_invalid_settings_naming_only_the_fields(db, script):
    connection = make_connection(script, name="Rota")
    GatewayConnection.objects.filter(pk=connection.pk).update(
        config={"token": "s3cr3t-value", "script": 7}
    )
    [message] = queue(connection)

    deliver(message.pk, "worker")

    message = reloaded(message)
    assert message.status == OutboundStatus.FAILED
    assert message.error == "the settings of connection 'Rota' are invalid: script, token"
    assert "s3cr3t" not in message.error


def test_it_fails_a_connection_of_an_unknown_kind(db, script):
    connection = make_connection(script, name="Vieja")
    GatewayConnection.objects.filter(pk=connection.pk).update(kind="telegram")
    [message] = queue(connection)

    deliver(message.pk, "worker")

    message = reloaded(message)
    assert message.status == OutboundStatus.FAILED
    assert message.error == "connection 'Vieja' cannot be used: unknown gateway kind 'telegram'"


# --- claims -----------------------------------------------------------------------------------


def test_it_leaves_a_message_alone_while_another_worker_holds_its_claim(db, script):
    connection = make_connection(script)
    [message] = queue(connection)
    now = timezone.now()
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=OutboundStatus.SENDING, claimed_by="busy", claim_expires_at=now + 30 * SECOND
    )

    assert deliver(message.pk, "worker", now=now).outcome == "taken"
    assert due_messages(now, 10) == []
    assert script.sends == []


def test_it_sends_a_message_whose_worker_died_once_the_claim_expires(db, script):
    connection = make_connection(script)
    [message] = queue(connection)
    now = timezone.now()
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=OutboundStatus.SENDING,
        claimed_by="dead-worker",
        claim_expires_at=now + 30 * SECOND,
        attempts=1,
    )
    later = now + 31 * SECOND

    assert due_messages(later, 10) == [(message.pk, connection.pk)]
    assert deliver(message.pk, "worker", now=later).outcome == "sent"
    message = reloaded(message)
    assert (message.status, message.attempts) == ("sent", 2)
    assert len(script.sends) == 1


def test_it_gives_up_on_a_message_whose_sends_keep_being_interrupted(db, script):
    set_config("outbox_max_attempts", 4)
    connection = make_connection(script)
    [message] = queue(connection)
    now = timezone.now()
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=OutboundStatus.SENDING, claimed_by="dead", claim_expires_at=now, attempts=4
    )

    delivery = deliver(message.pk, "worker", now=now + SECOND)

    message = reloaded(message)
    assert delivery.outcome == "failed"
    assert message.status == OutboundStatus.FAILED
    assert "the sender stopped mid-send" in message.error
    assert script.sends == []


def test_it_never_sends_an_echo_of_a_message_sent_from_the_phone(db, script):
    connection = make_connection(script)
    queue(connection, purpose=Purpose.ECHO)

    assert due_messages(timezone.now(), 10) == []


def test_exactly_one_of_two_workers_claiming_the_same_messages_sends_each(transactional_db, script):
    connection = make_connection(script)
    messages = queue(connection, 40)
    rounds, per_round = 4, 10
    listed = threading.Barrier(2, timeout=TIMEOUT)
    done = threading.Barrier(2, timeout=TIMEOUT)
    outcomes: dict[int, list[tuple[int, str]]] = {0: [], 1: []}
    seen: dict[int, list[list[int]]] = {0: [], 1: []}

    def worker(index: int) -> None:
        for _round in range(rounds):
            candidates = [pk for pk, _connection in due_messages(timezone.now(), per_round)]
            seen[index].append(candidates)
            listed.wait()  # both hold the same list: every claim is contested
            for pk in candidates:
                outcomes[index].append((pk, deliver(pk, f"worker-{index}").outcome))
            done.wait()

    errors = run_in_threads(2, worker, barriers=[listed, done])

    assert errors == []
    assert seen[0] == seen[1]
    by_message: dict[int, list[str]] = {}
    for index in (0, 1):
        for pk, outcome in outcomes[index]:
            by_message.setdefault(pk, []).append(outcome)
    assert {pk: sorted(found) for pk, found in by_message.items()} == {
        message.pk: ["sent", "taken"] for message in messages
    }
    assert sorted(script.texts()) == sorted(message.body for message in messages)
    assert statuses() == {"sent"}


# --- rate limits ------------------------------------------------------------------------------


def test_it_spaces_sends_by_the_connections_rate(db, script):
    connection = make_connection(script, rate_per_second=2)
    first, second = queue(connection, 2)
    now = timezone.now()
    half = timedelta(milliseconds=500)

    assert deliver(first.pk, "worker", now=now) == Delivery("sent", busy_until=now + half)
    connection.refresh_from_db()
    assert connection.next_send_at == now + half

    assert deliver(second.pk, "worker", now=now) == Delivery("deferred", busy_until=now + half)
    second = reloaded(second)
    assert second.status == OutboundStatus.QUEUED
    assert second.attempts == 0  # waiting for a slot is not an attempt
    assert (second.claimed_by, second.claim_expires_at) == ("", None)
    assert second.next_attempt_at == now + half
    assert script.texts() == ["mensaje 0"]

    assert deliver(second.pk, "worker", now=now + half).outcome == "sent"
    connection.refresh_from_db()
    assert connection.next_send_at == now + 2 * half
    assert reloaded(second).attempts == 1


def test_it_uses_the_kinds_default_rate_when_the_connection_has_none(db, script, monkeypatch):
    monkeypatch.setattr(ScriptedGateway, "default_rate_per_second", 1.0)
    connection = make_connection(script)
    first, second = queue(connection, 2)
    now = timezone.now()

    deliver(first.pk, "worker", now=now)

    connection.refresh_from_db()
    assert connection.next_send_at == now + SECOND
    assert deliver(second.pk, "worker", now=now).outcome == "deferred"


def test_a_rate_of_zero_means_unlimited(db, script, monkeypatch):
    monkeypatch.setattr(ScriptedGateway, "default_rate_per_second", 1.0)
    connection = make_connection(script, rate_per_second=0)
    messages = queue(connection, 3)
    now = timezone.now()

    outcomes = [deliver(message.pk, "worker", now=now).outcome for message in messages]

    connection.refresh_from_db()
    assert outcomes == ["sent", "sent", "sent"]
    assert connection.next_send_at is None


def test_a_pass_sends_one_message_per_free_slot_and_leaves_the_rest_untouched(db, script):
    busy = make_connection(script, name="Lenta", rate_per_second=1)
    free = make_connection(script, name="Libre", rate_per_second=0)
    slow = queue(busy, 3)
    fast = queue(free, 2)
    now = timezone.now()

    result = send_due_messages("worker", now=now)

    assert result.outcomes == {"sent": 3, "waiting": 2}
    assert sorted(script.texts()) == ["mensaje 0", "mensaje 0", "mensaje 1"]
    for message in slow[1:]:
        untouched = reloaded(message)
        assert (untouched.status, untouched.attempts) == ("queued", 0)
        assert untouched.next_attempt_at == message.next_attempt_at
    assert {reloaded(message).status for message in fast} == {"sent"}
    # The loop sleeps until the slow connection's next slot, and then it is due.
    assert due_messages(now, 10) == []
    assert next_due_at() == now + SECOND
    assert [pk for pk, _c in due_messages(now + SECOND, 10)] == [m.pk for m in slow[1:]]


def test_the_loop_wakes_for_the_next_retry_or_expired_claim(db, script):
    connection = make_connection(script)
    retry, claimed = queue(connection, 2)
    now = timezone.now()
    OutboundMessage.objects.filter(pk=retry.pk).update(next_attempt_at=now + 60 * SECOND)
    OutboundMessage.objects.filter(pk=claimed.pk).update(
        status=OutboundStatus.SENDING, claimed_by="w", claim_expires_at=now + 30 * SECOND
    )

    assert next_due_at() == now + 30 * SECOND
    OutboundMessage.objects.filter(pk=claimed.pk).update(status=OutboundStatus.SENT)
    assert next_due_at() == now + 60 * SECOND
    OutboundMessage.objects.filter(pk=retry.pk).update(status=OutboundStatus.FAILED)
    assert next_due_at() is None


def test_the_loop_does_not_spin_on_a_queued_message_left_with_a_live_claim(db, script):
    connection = make_connection(script)
    [message] = queue(connection)
    now = timezone.now()
    OutboundMessage.objects.filter(pk=message.pk).update(
        claimed_by="someone", claim_expires_at=now + 30 * SECOND
    )

    assert due_messages(now, 10) == []
    assert next_due_at() == now + 30 * SECOND


# --- receipts that beat the sent update -------------------------------------------------------


def test_it_keeps_a_receipt_that_arrived_before_the_sent_update(db, script):
    connection = make_connection(script)
    [message] = queue(connection)
    now = timezone.now()

    def receipt_first(sent: Any) -> None:
        # While the gateway holds the request, a receipt moves the row (as the webhook does).
        OutboundMessage.objects.filter(pk=message.pk).update(
            provider_id=sent.provider_id, status=OutboundStatus.READ, read_at=now
        )

    script.on_send = receipt_first

    assert deliver(message.pk, "worker", now=now).outcome == "sent"
    message = reloaded(message)
    assert message.status == OutboundStatus.READ
    assert message.provider_id == script.sends[0].provider_id
    assert (message.sent_at, message.read_at) == (now, now)
    assert (message.claimed_by, message.claim_expires_at) == ("", None)


# Inside a transaction (the record takes a savepoint) and outside one, as the sender loop
# runs (each statement on its own).
@pytest.mark.parametrize("database", ["db", "transactional_db"])
def test_it_merges_an_echo_of_its_own_send_stored_before_the_update(database, request, script):
    request.getfixturevalue(database)
    connection = make_connection(script)
    [message] = queue(connection)
    now = timezone.now()

    def echo_first(sent: Any) -> None:
        # The gateway's fromMe webhook, stored as an echo with a delivery receipt applied.
        OutboundMessage.objects.create(
            connection=connection,
            to=message.to,
            body=message.body,
            purpose=Purpose.ECHO,
            status=OutboundStatus.DELIVERED,
            provider_id=sent.provider_id,
            next_attempt_at=now,
            sent_at=now,
            delivered_at=now,
        )

    script.on_send = echo_first

    assert deliver(message.pk, "worker", now=now).outcome == "sent"
    [row] = OutboundMessage.objects.all()
    assert row.pk == message.pk
    assert (row.status, row.provider_id) == ("delivered", script.sends[0].provider_id)
    assert row.delivered_at == now
    assert row.claimed_by == ""


# --- the pass and the loop --------------------------------------------------------------------


def test_one_message_that_breaks_the_sender_does_not_stop_the_others(db, script, monkeypatch):
    connection = make_connection(script)
    first, broken, third = queue(connection, 3)
    real_deliver = sender.deliver

    def flaky(pk: int, worker: str, **options: Any) -> Delivery:
        if pk == broken.pk:
            raise RuntimeError("bad row")
        return real_deliver(pk, worker, **options)

    monkeypatch.setattr(sender, "deliver", flaky)

    result = send_due_messages("worker")

    assert result.errors == 1
    assert result.outcomes == {"sent": 2}
    assert script.texts() == [first.body, third.body]


def test_a_pass_sends_nothing_more_once_asked_to_stop(db, script):
    connection = make_connection(script)
    messages = queue(connection, 3)
    stop = threading.Event()
    script.on_send = lambda sent: stop.set()

    result = send_due_messages("worker", stop=stop)

    assert len(script.sends) == 1
    # What it had claimed ahead goes back as it was: due, unclaimed, no attempt counted.
    assert dict(result.outcomes) == {"sent": 1, "released": 2}
    rows = [OutboundMessage.objects.get(pk=m.pk) for m in messages]
    assert [(r.status, r.attempts, r.claimed_by, r.claim_expires_at) for r in rows[1:]] == [
        ("queued", 0, "", None)
    ] * 2


def test_it_bounds_the_batch(db, script):
    connection = make_connection(script)
    queue(connection, 5)

    result = send_due_messages("worker", batch_size=2)

    assert (result.listed, result.full, len(script.sends)) == (2, True, 2)


def start_loop(loop: SenderLoop) -> threading.Thread:
    thread = threading.Thread(target=loop.run, name=f"sender-{loop.worker}")
    thread.start()
    return thread


def stop_loop(loop: SenderLoop, thread: threading.Thread) -> float:
    """Stop the loop; return how long it took to end."""
    started = time.monotonic()
    loop.stop()
    thread.join(timeout=10)
    assert not thread.is_alive(), "the sender loop did not stop"
    return time.monotonic() - started


def test_the_loop_sends_wakes_for_new_messages_and_stops_promptly(transactional_db, script):
    connection = make_connection(script)
    loop = SenderLoop(worker="looper", poll_seconds=3600)  # only a wake-up can send quickly
    thread = start_loop(loop)
    try:
        [first] = queue(connection)
        wait_until(lambda: len(script.sends) == 1, timeout=TIMEOUT, message="the first send")
        [second] = queue(connection)
        wait_until(lambda: len(script.sends) == 2, timeout=TIMEOUT, message="the second send")
        wait_until(lambda: statuses() == {"sent"}, timeout=TIMEOUT, message="both recorded")
    finally:
        seconds = stop_loop(loop, thread)

    assert seconds < 5
    assert script.texts() == [first.body, second.body]
    assert loop.wake not in wakeups.registered(SENDER)


def test_two_loops_deliver_every_message_exactly_once(transactional_db, script):
    connection = make_connection(script)
    messages = queue(connection, 50)
    loops = [SenderLoop(worker=f"w{i}", poll_seconds=0.05, batch_size=5) for i in range(2)]
    threads = [start_loop(loop) for loop in loops]
    try:
        wait_until(
            lambda: statuses() == {"sent"}, timeout=60, message="every message sent by the loops"
        )
    finally:
        for loop, thread in zip(loops, threads, strict=True):
            stop_loop(loop, thread)

    assert sorted(script.texts()) == sorted(message.body for message in messages)
    assert len(script.sends) == 50


@pytest.mark.parametrize("poll", [3600.0])
def test_the_loop_stops_promptly_while_idle(transactional_db, poll):
    loop = SenderLoop(worker="idle", poll_seconds=poll)
    thread = start_loop(loop)
    wait_until(
        lambda: loop.wake in wakeups.registered(SENDER), timeout=TIMEOUT, message="the loop started"
    )

    assert stop_loop(loop, thread) < 5


def test_serve_and_worker_run_the_sender_next_to_the_scheduler(transactional_db, monkeypatch):
    from ispdesk.jobs import runner
    from ispdesk.system.management.commands._server import start_loops, stop_loops

    class IdleScheduler(SenderLoop):
        """Stands in for the scheduler so no periodic job runs in this test."""

    monkeypatch.setattr(runner, "SchedulerLoop", IdleScheduler)

    loops = start_loops()
    try:
        names = [type(loop.loop).__name__ for loop in loops]
        wait_until(
            lambda: (
                loops[0].loop.wake in wakeups.registered(HAND_OVER)
                and all(loop.loop.wake in wakeups.registered(SENDER) for loop in loops[1:])
            ),
            timeout=TIMEOUT,
            message="the loops running",
        )
    finally:
        stop_loops(loops, timeout=10)

    assert names == ["HandOverLoop", "SenderLoop", "IdleScheduler"]
    assert not any(loop.thread.is_alive() for loop in loops)
