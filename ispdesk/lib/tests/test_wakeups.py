"""Wake-ups across processes: NOTIFY after commit, a listener that reconnects.

The first tests run on every database (elsewhere than PostgreSQL: no statement, no
listener). `TestOnPostgreSQL` is collected only when the suite runs on PostgreSQL: it
listens for real, on the test database, with a listener thread of its own connection.
Tests wait on counts and events with a timeout; nothing sleeps.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ispdesk.lib import dbtriggers
from ispdesk.lib.loops import WakeableLoop
from ispdesk.lib.wakeups import (
    HAND_OVER,
    SENDER,
    WakeListener,
    connect_params,
    listen_for,
    notify,
    register,
    unregister,
)
from ispdesk.messaging import outbox, pending, stored_wakeup
from ispdesk.messaging.models import InboundMessage, OutboundMessage
from ispdesk.messaging.pending import HandOverLoop
from ispdesk.messaging.receiving import receive_events
from ispdesk.messaging.sender import SenderLoop
from ispdesk.messaging.tests.webhook_support import message_event, simulator_connection

POSTGRESQL = connection.vendor == "postgresql"
WAIT_SECONDS = 10.0


class Calls:
    """A callback that counts its calls; a test waits for a count instead of sleeping."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = threading.Condition()

    def __call__(self) -> None:
        with self._changed:
            self.count += 1
            self._changed.notify_all()

    def wait_for(self, count: int) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.count >= count, WAIT_SECONDS)


class Warnings(logging.Handler):
    """The wake-up module's warnings, from any thread, with an event for the first one."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.logged = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(self.format(record))
        self.logged.set()


@pytest.fixture
def warnings() -> Iterator[Warnings]:
    handler = Warnings()
    logger = logging.getLogger("ispdesk.lib.wakeups")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def in_another_thread(work: Callable[[], None]) -> None:
    """Run `work` in a thread of its own (its own connection), and wait for it."""

    def run() -> None:
        try:
            work()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(WAIT_SECONDS)
    assert not thread.is_alive()


# Every database -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_it_notifies_with_one_statement_on_postgresql_and_none_elsewhere() -> None:
    with CaptureQueriesContext(connection) as queries:
        notify(SENDER)
    statements = [query["sql"] for query in queries.captured_queries]
    if POSTGRESQL:
        assert len(statements) == 1
        assert "pg_notify" in statements[0]
        assert SENDER in statements[0]
    else:
        assert statements == []


def select_one() -> Any:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone()


@pytest.mark.django_db(transaction=True)
def test_a_failed_notification_is_logged_and_breaks_nothing(warnings: Warnings) -> None:
    # PostgreSQL refuses an empty channel name: a real failure of the statement.
    with transaction.atomic():
        notify("")
        assert select_one() == (1,)  # the transaction goes on: the statement waits for commit
    notify("")
    assert select_one() == (1,)
    # Elsewhere nothing was tried, so nothing failed.
    assert len(warnings.messages) == (2 if POSTGRESQL else 0)
    assert all("polling" in message for message in warnings.messages)


@pytest.mark.django_db(transaction=True)
def test_there_is_a_listener_only_on_postgresql() -> None:
    assert (WakeListener.for_database() is not None) is POSTGRESQL
    listener = listen_for([HandOverLoop(), SenderLoop()])
    try:
        assert (listener is not None) is POSTGRESQL
        if listener is not None:
            assert sorted(listener.channels) == sorted([HAND_OVER, SENDER])
            assert listener.is_alive()
    finally:
        if listener is not None:
            listener.stop()


@pytest.fixture
def local_sender() -> Iterator[Calls]:
    waker = Calls()
    register(SENDER, waker)
    yield waker
    unregister(SENDER, waker)


@pytest.mark.django_db(transaction=True)
def test_a_transaction_queueing_many_messages_wakes_the_sender_once(local_sender: Calls) -> None:
    number = simulator_connection()
    with transaction.atomic():
        for n in range(3):
            outbox.queue_message(f"+5493515{n:06d}", "hola", connection=number)
        assert local_sender.count == 0
    assert local_sender.count == 1


@pytest.mark.django_db(transaction=True)
def test_the_pending_wake_up_is_found_in_djangos_commit_hooks() -> None:
    # Pins the private shape `_wake_waiting` reads: if Django changes it, this fails first.
    with transaction.atomic():
        assert outbox._wake_waiting(transaction.get_connection().run_on_commit) is False
        transaction.on_commit(outbox.wake_sender)
        assert outbox._wake_waiting(transaction.get_connection().run_on_commit) is True
    # A shape it does not know means one wake-up too many, never an error.
    assert outbox._wake_waiting([object(), ("only one",)]) is False
    assert outbox._wake_waiting(None) is False


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_savepoint_does_not_take_the_wake_up_of_the_messages_kept(
    local_sender: Calls,
) -> None:
    number = simulator_connection()
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            outbox.queue_message("+5493515000001", "se deshace", connection=number)
            raise RuntimeError("rolled back to the savepoint")
        with transaction.atomic():
            outbox.queue_message("+5493515000002", "queda", connection=number)
        with pytest.raises(RuntimeError), transaction.atomic():
            outbox.queue_message("+5493515000003", "se deshace", connection=number)
            raise RuntimeError("rolled back to the savepoint")
    assert local_sender.count == 1
    assert list(OutboundMessage.objects.values_list("body", flat=True)) == ["queda"]


def test_loops_without_a_channel_need_no_listener() -> None:
    from ispdesk.jobs.runner import SchedulerLoop

    assert listen_for([WakeableLoop(1.0)]) is None
    # The job scheduler is a loop of another kind: no channel, and no wake-up of its own.
    assert listen_for([SchedulerLoop()]) is None
    assert listen_for([]) is None


# PostgreSQL -----------------------------------------------------------------------------


def new_channel() -> str:
    return f"ispdesk_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def listen() -> Iterator[Callable[..., tuple[WakeListener, dict[str, Calls]]]]:
    """Start a listener on the given channels, each with a `Calls`; stopped afterwards."""
    started: list[WakeListener] = []

    def start(*channels: str) -> tuple[WakeListener, dict[str, Calls]]:
        listener = WakeListener.for_database()
        assert listener is not None
        listener.first_reconnect_wait = 0.05  # a dropped connection is retried at once
        listener.stop_check = 0.1  # and a test's teardown is quick
        calls = {channel: Calls() for channel in channels}
        for channel, callback in calls.items():
            listener.on(channel, callback)
        listener.start()
        started.append(listener)
        # Once listening, it calls every callback once: from here on nothing is missed.
        assert all(callback.wait_for(1) for callback in calls.values())
        return listener, calls

    yield start
    for listener in started:
        listener.stop()


def assert_hand_over_woken(calls: dict[str, Calls], *, times: int) -> None:
    """The hand-over channel was notified `times` times (its listener's first call counts),
    and nothing more is on its way: notifications arrive in the order they were sent, so
    once a sender wake-up sent now has arrived, any hand-over one sent before it has too."""
    probes = calls[SENDER].count
    outbox.wake_sender()
    assert calls[SENDER].wait_for(probes + 1)
    assert calls[HAND_OVER].count == times


@pytest.mark.django_db(transaction=True)
class TestOnPostgreSQL:
    __test__ = POSTGRESQL

    def test_its_connection_takes_djangos_parameters_but_not_the_pool(self) -> None:
        import psycopg

        settings_dict = connection.settings_dict
        pooled = type(connections["default"])(
            {**settings_dict, "OPTIONS": {**settings_dict["OPTIONS"], "pool": {"max_size": 4}}},
            alias="wakeups_pooled",
        )
        params = connect_params(pooled)
        assert "pool" not in params
        with psycopg.connect(**params, autocommit=True) as conn:
            row = conn.execute("SELECT current_database()").fetchone()
        assert row == (settings_dict["NAME"],)

    def test_it_calls_a_channels_callbacks_when_another_thread_commits_a_notification(
        self, listen: Callable[..., tuple[WakeListener, dict[str, Calls]]]
    ) -> None:
        channel, other = new_channel(), new_channel()
        _, calls = listen(channel, other)

        def commit() -> None:
            with transaction.atomic():
                notify(channel)

        in_another_thread(commit)
        assert calls[channel].wait_for(2)
        notify(other)
        assert calls[other].wait_for(2)
        assert calls[channel].count == 2  # one call per notification, none for the other

    def test_a_notification_in_a_transaction_goes_out_when_it_commits(
        self, listen: Callable[..., tuple[WakeListener, dict[str, Calls]]]
    ) -> None:
        channel, other = new_channel(), new_channel()
        _, calls = listen(channel, other)
        with transaction.atomic():
            notify(channel)
            in_another_thread(lambda: notify(other))
            assert calls[other].wait_for(2)
            assert calls[channel].count == 1  # not yet: the transaction is open
        assert calls[channel].wait_for(2)

    def test_a_notification_in_a_rolled_back_transaction_never_goes_out(
        self, listen: Callable[..., tuple[WakeListener, dict[str, Calls]]]
    ) -> None:
        channel, other = new_channel(), new_channel()
        _, calls = listen(channel, other)
        with pytest.raises(RuntimeError), transaction.atomic():
            notify(channel)
            raise RuntimeError("rolled back")
        # Notifications arrive in commit order: the channel's would have come first.
        notify(other)
        assert calls[other].wait_for(2)
        assert calls[channel].count == 1

    def test_it_reconnects_and_calls_every_callback_once_when_its_connection_is_killed(
        self, listen: Callable[..., tuple[WakeListener, dict[str, Calls]]], warnings: Warnings
    ) -> None:
        channel, other = new_channel(), new_channel()
        listener, calls = listen(channel, other)
        killed = listener.backend_pid
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [killed])
            assert cursor.fetchone() == (True,)
        assert calls[channel].wait_for(2)
        assert calls[other].wait_for(2)
        assert listener.backend_pid not in (None, killed)
        assert any("lost its connection" in message for message in warnings.messages)
        # Listening again; had the reconnection called `other` twice, it would show by now.
        notify(channel)
        assert calls[channel].wait_for(3)
        assert calls[other].count == 2

    def test_it_stops_within_seconds(self) -> None:
        listener = WakeListener.for_database()  # the production intervals
        assert listener is not None
        listening = Calls()
        listener.on(new_channel(), listening)
        listener.start()
        assert listening.wait_for(1)
        started = time.monotonic()
        listener.stop()
        assert not listener.is_alive()
        assert time.monotonic() - started < 3
        assert listener.backend_pid is None

    def test_it_retries_a_refused_connection_without_logging_the_password(
        self, warnings: Warnings
    ) -> None:
        password = f"never-logged-{uuid.uuid4().hex}"
        listener = WakeListener(
            {**connect_params(connection), "host": "127.0.0.1", "port": 1, "password": password}
        )
        listener.first_reconnect_wait = 60  # stop() must cut the wait short
        listener.on(new_channel(), Calls())
        listener.start()
        try:
            assert warnings.logged.wait(WAIT_SECONDS)
            assert "could not connect" in warnings.messages[0]
            assert not any(password in message for message in warnings.messages)
        finally:
            started = time.monotonic()
            listener.stop()
        assert not listener.is_alive()
        assert time.monotonic() - started < 3

    def test_the_loops_are_woken_by_work_queued_where_none_of_them_runs(self) -> None:
        from ispdesk.jobs.runner import SchedulerLoop

        hand_over, sender = HandOverLoop(), SenderLoop()
        listener = listen_for([hand_over, sender, SchedulerLoop()])
        assert listener is not None
        try:
            # Woken once as the listener starts listening.
            assert hand_over.wake_event.wait(WAIT_SECONDS)
            assert sender.wake_event.wait(WAIT_SECONDS)
            hand_over.wake_event.clear()
            sender.wake_event.clear()
            outbox.wake_sender()
            assert sender.wake_event.wait(WAIT_SECONDS)
            assert not hand_over.wake_event.is_set()
            pending.wake_hand_over()
            assert hand_over.wake_event.wait(WAIT_SECONDS)
        finally:
            listener.stop()

    @pytest.mark.parametrize(
        ("local", "remote"),
        [(outbox, pending), (pending, outbox)],
        ids=["sender", "hand-over"],
    )
    def test_a_loop_running_here_is_woken_directly_not_through_the_database(
        self,
        listen: Callable[..., tuple[WakeListener, dict[str, Calls]]],
        local: Any,
        remote: Any,
    ) -> None:
        channels = {outbox: SENDER, pending: HAND_OVER}
        wakes = {outbox: outbox.wake_sender, pending: pending.wake_hand_over}
        _, calls = listen(SENDER, HAND_OVER)
        waker = Calls()
        register(channels[local], waker)
        try:
            wakes[local]()
        finally:
            unregister(channels[local], waker)
        assert waker.count == 1
        # Notifications arrive in the order they were sent: the local one's would come first.
        wakes[remote]()
        assert calls[channels[remote]].wait_for(2)
        assert calls[channels[local]].count == 1

    def test_a_stored_customer_message_wakes_the_hand_over_loops_when_it_commits(
        self, listen: Callable[..., tuple[WakeListener, dict[str, Calls]]]
    ) -> None:
        _, calls = listen(HAND_OVER, SENDER)
        number = simulator_connection()
        with transaction.atomic():
            received = receive_events(number, [message_event("wamid.1"), message_event("wamid.2")])
            in_another_thread(outbox.wake_sender)
            assert calls[SENDER].wait_for(2)
            assert calls[HAND_OVER].count == 1  # not yet: the transaction is open
        assert received.messages == 2
        assert calls[HAND_OVER].wait_for(2)
        # A repeated delivery stores nothing and wakes nobody; notifications arrive in the
        # order they were sent, so the hand-over's would come before the sender's.
        again = receive_events(number, [message_event("wamid.2")])
        assert again.duplicates == 1
        assert_hand_over_woken(calls, times=2)

    def test_a_row_stored_already_handed_over_wakes_nobody(
        self, listen: Callable[..., tuple[WakeListener, dict[str, Calls]]]
    ) -> None:
        _, calls = listen(HAND_OVER, SENDER)
        number = simulator_connection()
        now = timezone.now()
        InboundMessage.objects.create(
            connection=number, provider_id="imported", chat_id="x", sent_at=now, handed_over_at=now
        )
        assert_hand_over_woken(calls, times=1)

    def test_a_rolled_back_store_wakes_nobody(
        self, listen: Callable[..., tuple[WakeListener, dict[str, Calls]]]
    ) -> None:
        _, calls = listen(HAND_OVER, SENDER)
        number = simulator_connection()
        with pytest.raises(RuntimeError), transaction.atomic():
            receive_events(number, [message_event("wamid.1")])
            raise RuntimeError("rolled back")
        assert_hand_over_woken(calls, times=1)


@pytest.mark.django_db(transaction=True)
def test_storing_a_customer_message_wakes_a_hand_over_loop_of_this_process_after_commit(
    settings: Any,
) -> None:
    settings.INBOUND_HANDLING = "background"
    waker = Calls()
    register(HAND_OVER, waker)
    try:
        number = simulator_connection()
        with transaction.atomic():
            receive_events(number, [message_event("wamid.1")])
            assert waker.count == 0
        assert waker.count == 1
        receive_events(number, [message_event("wamid.1")])  # a repeat: nothing new
        assert waker.count == 1
    finally:
        unregister(HAND_OVER, waker)


@pytest.mark.django_db(transaction=True)  # MariaDB commits around any DDL
def test_the_wake_up_trigger_exists_on_postgresql_and_comes_back_when_lost() -> None:
    names = set(stored_wakeup.trigger_names(connection))
    assert names == ({stored_wakeup.TRIGGER} if POSTGRESQL else set())
    if not POSTGRESQL:
        assert not stored_wakeup.restore(connection)
        return
    assert dbtriggers.existing(connection, names) == names
    assert not stored_wakeup.restore(connection)  # nothing missing: nothing done
    # Created again over itself (a migration forward after a `restore` on the way back).
    dbtriggers.execute_all(connection, stored_wakeup.create_sql(connection))
    assert dbtriggers.existing(connection, names) == names
    dbtriggers.execute_all(connection, stored_wakeup.drop_sql(connection))
    assert dbtriggers.existing(connection, names) == set()
    assert stored_wakeup.restore(connection)
    assert dbtriggers.existing(connection, names) == names
