"""Customer messages reach the service desk after the webhook answered (`messaging.pending`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from django.db import OperationalError
from django.db import connection as db_connection
from django.test import Client

from ispdesk.conversations.models import Conversation, Message
from ispdesk.lib import wakeups
from ispdesk.lib.wakeups import HAND_OVER
from ispdesk.messaging import pending
from ispdesk.messaging.inbound import register_inbound_handler, unregister_inbound_handler
from ispdesk.messaging.models import GatewayConnection, HandOverLock, InboundMessage
from ispdesk.messaging.pending import LOCK_NAME, HandOverLoop, hand_over_waiting, waiting_count
from ispdesk.messaging.receiving import receive_events
from ispdesk.messaging.tests.webhook_support import (
    evolution_connection,
    evolution_upsert,
    message_event,
    post_json,
    simulator_connection,
)
from ispdesk.testing.sockets import wait_until

TIMEOUT = 20


@pytest.fixture
def background(settings):  # type: ignore[no-untyped-def]
    settings.INBOUND_HANDLING = "background"


@pytest.fixture
def seen() -> Iterator[list[int]]:
    """Ids of the messages handed to a recording handler (next to the desk's own)."""
    ids: list[int] = []

    def record(message: InboundMessage) -> None:
        ids.append(message.pk)

    register_inbound_handler(record)
    yield ids
    unregister_inbound_handler(record)


def _failing_handler(fail_on: set[str], error: Callable[[str], Exception]):  # type: ignore[no-untyped-def]
    def handler(message: InboundMessage) -> None:
        if message.provider_id in fail_on:
            raise error(f"refused {message.provider_id}")

    return handler


@pytest.mark.django_db
def test_the_webhook_only_stores_and_the_desk_takes_the_message_afterwards(background):
    connection = evolution_connection()
    answer = post_json(
        Client(), connection, evolution_upsert("ID1", "5493515551234@s.whatsapp.net", "hola")
    )

    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "stored": 1}
    message = InboundMessage.objects.get()
    assert message.handed_over_at is None
    assert not Conversation.objects.exists()

    result = hand_over_waiting()

    assert (result.handed, result.failed, result.full) == (1, 0, False)
    message.refresh_from_db()
    assert message.handed_over_at is not None
    line = Message.objects.get()
    assert (line.inbound_id, line.text) == (message.pk, "hola")


@pytest.mark.django_db
def test_each_message_is_handed_over_once_in_the_order_it_was_stored(background, seen):
    connection = simulator_connection()
    receive_events(connection, [message_event(f"wamid.{n}", text=f"m{n}") for n in range(5)])
    stored = list(InboundMessage.objects.order_by("id").values_list("pk", flat=True))

    first = hand_over_waiting(batch_size=2)
    rest = [hand_over_waiting(batch_size=2) for _ in range(3)]

    assert (first.handed, first.full) == (2, True)
    assert [(item.handed, item.full) for item in rest] == [(2, True), (1, False), (0, False)]
    assert seen == stored
    assert waiting_count() == 0
    # The same provider id delivered again is a duplicate: nothing new waits.
    receive_events(connection, [message_event("wamid.0", text="m0")])
    assert hand_over_waiting().handed == 0
    assert seen == stored


@pytest.mark.django_db
def test_a_handler_that_raises_costs_only_its_own_message(background, seen, caplog):
    connection = simulator_connection()
    broken = _failing_handler({"wamid.bad"}, ValueError)
    register_inbound_handler(broken)
    try:
        receive_events(
            connection,
            [message_event(provider) for provider in ("wamid.a", "wamid.bad", "wamid.c")],
        )
        result = hand_over_waiting()
    finally:
        unregister_inbound_handler(broken)

    assert (result.handed, result.failed) == (3, 1)
    assert waiting_count() == 0
    # The batch ran without savepoints, was rolled back at the failure and ran again with
    # one per message: handlers only write rows, so running twice leaves one result.
    assert seen.count(seen[-1]) == 1 and set(seen) == set(
        InboundMessage.objects.values_list("pk", flat=True)
    )
    # The desk's own handler ran for the others; the failed one's desk work was rolled back.
    texts = set(Message.objects.values_list("inbound__provider_id", flat=True))
    assert texts == {"wamid.a", "wamid.c"}
    assert "inbound handler failed for message" in caplog.text


@pytest.mark.django_db
def test_a_database_error_keeps_the_whole_batch_waiting(background):
    connection = simulator_connection()
    broken = _failing_handler({"wamid.b"}, OperationalError)
    register_inbound_handler(broken)
    try:
        receive_events(connection, [message_event(p) for p in ("wamid.a", "wamid.b")])
        with pytest.raises(OperationalError):
            hand_over_waiting()
    finally:
        unregister_inbound_handler(broken)

    assert waiting_count() == 2
    assert not Message.objects.exists()
    assert hand_over_waiting().handed == 2
    assert Message.objects.filter(inbound__isnull=False).count() == 2


@pytest.mark.django_db
def test_a_busy_database_never_costs_a_message_however_often_it_fails(background):
    connection = simulator_connection()
    failures = iter(range(5))

    def busy(message: InboundMessage) -> None:
        if message.provider_id == "wamid.a" and next(failures, None) is not None:
            raise OperationalError("database is locked")

    register_inbound_handler(busy)
    loop = HandOverLoop(poll_seconds=0.05)
    outcomes = []
    try:
        receive_events(connection, [message_event(p) for p in ("wamid.a", "wamid.b")])
        for _ in range(10):
            try:
                outcomes.append(loop.run_once())
            except OperationalError:
                outcomes.append("error")
            if not waiting_count():
                break
    finally:
        unregister_inbound_handler(busy)

    # Five lock timeouts: the batch is rolled back and tried again each time, whole.
    assert outcomes == ["error"] * 5 + [0.05]
    handled = set(Message.objects.values_list("inbound__provider_id", flat=True))
    assert handled == {"wamid.a", "wamid.b"}


@pytest.mark.django_db
def test_a_value_the_database_refuses_costs_only_that_message(background, caplog):
    connection = simulator_connection()
    # How MySQL/MariaDB report a bad value (incorrect string value): an OperationalError.
    broken = _failing_handler({"wamid.bad"}, lambda text: OperationalError(1366, text))
    register_inbound_handler(broken)
    try:
        receive_events(connection, [message_event(p) for p in ("wamid.a", "wamid.bad")])
        result = HandOverLoop(poll_seconds=0.05).run_once()
    finally:
        unregister_inbound_handler(broken)

    assert result == 0.05
    assert waiting_count() == 0
    assert set(Message.objects.values_list("inbound__provider_id", flat=True)) == {"wamid.a"}
    assert "inbound handler failed for message" in caplog.text


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (OperationalError("database is locked"), True),
        (OperationalError(1213, "Deadlock found when trying to get lock"), True),
        (OperationalError(1205, "Lock wait timeout exceeded"), True),
        (OperationalError("server closed the connection unexpectedly"), True),
        (OperationalError(1366, "Incorrect string value"), False),
        (OperationalError(1406, "Data too long for column"), False),
        (ValueError("a bug"), False),
    ],
)
def test_which_errors_retry_the_whole_batch(error, transient):
    from django.db import InterfaceError

    assert pending.is_transient(error) is transient
    assert pending.is_transient(InterfaceError("connection already closed"))


@pytest.mark.django_db(transaction=True)
def test_the_loop_wakes_when_its_own_process_stores_a_message(background):
    connection = evolution_connection()
    # A poll far longer than the test's patience: only the wake-up can be fast enough.
    loop = HandOverLoop(poll_seconds=3600)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    try:
        wait_until(
            lambda: loop.wake in wakeups.registered(HAND_OVER), timeout=TIMEOUT, message="loop up"
        )
        post_json(
            Client(), connection, evolution_upsert("ID9", "5493515551234@s.whatsapp.net", "hola")
        )
        wait_until(
            lambda: Message.objects.filter(inbound__provider_id="ID9").exists(),
            timeout=TIMEOUT,
            message="the desk took the message",
        )
    finally:
        loop.stop()
        thread.join(TIMEOUT)
    assert not thread.is_alive()
    assert Conversation.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_hand_each_message_over_exactly_once_and_in_order(background):
    connection: GatewayConnection = simulator_connection()
    # Three customers, four messages each, interleaved.
    events = [
        message_event(
            f"wamid.{chat}.{n}",
            chat_id=f"549351555000{chat}@s.whatsapp.net",
            phone=f"+549351555000{chat}",
            text=f"{chat}-{n}",
        )
        for n in range(4)
        for chat in range(3)
    ]
    receive_events(connection, events)
    # The lock's row, as the migration leaves it: the test database's flush removed it, and
    # three threads creating it at once can deadlock on InnoDB's duplicate-key locks (seen
    # once in CI), which no running system meets (`_ensure_lock_row` is for flushed databases).
    HandOverLock.objects.get_or_create(name=LOCK_NAME)
    handled: list[tuple[str, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(3)

    def record(message: InboundMessage) -> None:
        with lock:
            handled.append((message.phone, message.text))

    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait(TIMEOUT)
            while hand_over_waiting(batch_size=2).handed:
                pass
        except BaseException as exc:  # a deadlock or lock timeout must fail the test
            errors.append(exc)
        finally:
            db_connection.close()

    register_inbound_handler(record)
    try:
        threads = [threading.Thread(target=worker) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT * 3)
    finally:
        unregister_inbound_handler(record)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert sorted(handled) == sorted((event.phone, event.text) for event in events)
    for chat in range(3):
        texts = [text for phone, text in handled if phone == f"+549351555000{chat}"]
        assert texts == [f"{chat}-{n}" for n in range(4)]
    assert Message.objects.filter(inbound__isnull=False).count() == len(events)
    assert waiting_count() == 0


@pytest.mark.django_db
def test_a_batch_commits_what_it_did_once_its_time_is_up(background, seen, settings, monkeypatch):
    settings.INBOUND_BATCH_MS = 100
    ticks = iter(range(0, 10_000, 60))  # each look at the clock: 60 ms later
    monkeypatch.setattr(pending.time, "monotonic", lambda: next(ticks) / 1000)
    receive_events(simulator_connection(), [message_event(f"wamid.{n}") for n in range(5)])

    first = hand_over_waiting(batch_size=50)

    # Started at 0 ms; at 60 ms the second message still fits, at 120 ms the time is up.
    assert (first.handed, first.full) == (2, True)
    assert waiting_count() == 3
    assert len(seen) == 2
