"""The SQLite backend's writer turns, on a database file of the test's own (whatever database
the suite runs on), each thread with its own connection as in the embedded server."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError
from django.db.utils import ConnectionHandler

from ispdesk.lib.sqlite_backend.base import (
    DatabaseWrapper,
    _thread_connections,
    is_write,
    turns_for,
)
from ispdesk.testing.sockets import wait_until

TIMEOUT = 10


@pytest.fixture
def database(tmp_path: Path, django_db_blocker: Any) -> Iterator[Callable[..., DatabaseWrapper]]:
    """`connect(timeout=...)`: a connection of this thread to a fresh file with one table."""
    path = tmp_path / "turns.sqlite3"
    handlers: list[ConnectionHandler] = []

    def connect(timeout: float = TIMEOUT) -> DatabaseWrapper:
        handler = ConnectionHandler(
            {
                "default": {
                    "ENGINE": "ispdesk.lib.sqlite_backend",
                    "NAME": str(path),
                    "CONN_MAX_AGE": None,  # as settings.py has it for SQLite
                    "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": timeout},
                }
            }
        )
        handlers.append(handler)
        connection = handler["default"]
        assert isinstance(connection, DatabaseWrapper)
        connection.ensure_connection()
        return connection

    with django_db_blocker.unblock():
        setup = connect()
        setup.cursor().execute("CREATE TABLE note (id INTEGER PRIMARY KEY, text TEXT)")
        setup.close()
        yield connect
        for handler in handlers:
            handler.close_all()


def in_thread(work: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Run `work` in a thread; the list gets its result or the exception it raised."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(work())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


Connect = Callable[..., DatabaseWrapper]


def insert(connect: Connect, text: str, **options: Any) -> Callable[[], None]:
    def work() -> None:
        connection = connect(**options)
        try:
            connection.cursor().execute("INSERT INTO note (text) VALUES (%s)", [text])
        finally:
            connection.close()

    return work


def texts(connection: DatabaseWrapper) -> list[str]:
    cursor = connection.cursor()
    cursor.execute("SELECT text FROM note ORDER BY id")
    return [row[0] for row in cursor.fetchall()]


def begin(connection: DatabaseWrapper) -> None:
    """What `transaction.atomic()` does first on this backend."""
    connection._start_transaction_under_autocommit()


def test_a_write_outside_a_transaction_queues_behind_one_and_goes_when_it_commits(database):
    holder = database()
    begin(holder)
    holder.cursor().execute("INSERT INTO note (text) VALUES ('first')")

    thread, outcome = in_thread(insert(database, "second"))
    wait_until(lambda: holder.turns.waiting() == 1, timeout=TIMEOUT, message="queued")
    assert outcome == []  # waiting its turn, not polling SQLite's lock
    holder.commit()
    thread.join(TIMEOUT)

    assert outcome == [None]
    assert texts(holder) == ["first", "second"]
    assert not holder.turns.locked()


def test_writers_get_their_turns_in_the_order_they_asked(database):
    holder = database()
    begin(holder)
    threads = []
    for number in range(5):
        thread, _ = in_thread(insert(database, f"w{number}"))
        threads.append(thread)
        wait_until(
            lambda n=number: holder.turns.waiting() == n + 1, timeout=TIMEOUT, message="queued"
        )
    holder.commit()
    for thread in threads:
        thread.join(TIMEOUT)

    assert texts(holder) == ["w0", "w1", "w2", "w3", "w4"]


def test_reads_do_not_wait_for_a_turn(database):
    holder = database()
    begin(holder)
    holder.cursor().execute("INSERT INTO note (text) VALUES ('uncommitted')")

    def read() -> list[str]:
        connection = database()
        try:
            return texts(connection)
        finally:
            connection.close()

    thread, outcome = in_thread(read)
    thread.join(TIMEOUT)

    assert outcome == [[]]  # answered while the writer held its turn, from the last commit
    holder.rollback()


@pytest.mark.parametrize("end", ["commit", "rollback", "close"])
def test_a_transaction_holds_the_turn_until_it_ends(database, end):
    connection = database()
    begin(connection)

    assert connection.turns.locked()
    getattr(connection, end)()
    assert not connection.turns.locked()


def test_a_turn_that_does_not_come_in_time_leaves_the_wait_to_sqlite(database):
    holder = database()
    begin(holder)

    thread, outcome = in_thread(insert(database, "late", timeout=0.1))
    thread.join(TIMEOUT)

    assert len(outcome) == 1 and isinstance(outcome[0], OperationalError)
    assert "locked" in str(outcome[0])
    assert holder.turns.waiting() == 0
    holder.commit()
    assert not holder.turns.locked()


def test_a_transaction_that_cannot_begin_gives_its_turn_back(database, tmp_path):
    # Another process's writer (a raw connection here) is outside this process's turns:
    # SQLite's own lock keeps them apart, and the failed BEGIN must not keep the turn.
    other = sqlite3.connect(tmp_path / "turns.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    connection = database(timeout=0.1)
    try:
        with pytest.raises(OperationalError, match="locked"):
            begin(connection)
        assert not connection.turns.locked()
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_connection_stays_open_across_requests_and_closes_with_its_thread(database):
    def two_requests() -> tuple[Any, Any]:
        connection = database()
        first = connection.connection
        connection.close_if_unusable_or_obsolete()  # what Django does as a request ends
        connection.ensure_connection()
        return first, connection.connection  # left open, as a request thread leaves it

    thread, outcome = in_thread(two_requests)
    thread.join(TIMEOUT)

    [(first, second)] = outcome
    assert first is second
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        first.execute("SELECT 1")


def test_a_connection_closed_by_its_thread_is_not_closed_again_later(database):
    connection = database()
    raw = connection.connection
    connection.close()

    assert raw not in _thread_connections().open


def test_a_thread_that_ends_inside_a_transaction_gives_its_turn_up(database):
    def leave_a_transaction_open() -> None:
        connection = database()
        begin(connection)
        connection.cursor().execute("INSERT INTO note (text) VALUES ('abandoned')")

    thread, outcome = in_thread(leave_a_transaction_open)
    thread.join(TIMEOUT)

    assert outcome == [None]
    connection = database()
    assert not connection.turns.locked()
    insert(database, "next")()  # no wait for a turn nobody will give back
    assert texts(connection) == ["next"]  # the abandoned write was never committed


def test_a_manual_transaction_keeps_the_turn_until_it_commits(database):
    connection = database()
    connection.set_autocommit(False)
    connection.cursor().execute("INSERT INTO note (text) VALUES ('manual')")

    assert connection.turns.locked()  # sqlite3 began a transaction before the write
    connection.commit()
    assert not connection.turns.locked()
    connection.set_autocommit(True)


def test_a_second_connection_of_the_same_thread_does_not_wait_for_its_own_turn(database):
    holder = database()
    begin(holder)
    other = database(timeout=0.1)

    with pytest.raises(OperationalError, match="locked"):
        other.cursor().execute("INSERT INTO note (text) VALUES ('second')")
    assert holder.turns.waiting() == 0
    holder.rollback()


def test_connections_to_different_files_have_separate_turns(tmp_path):
    assert turns_for(str(tmp_path / "a.sqlite3")) is not turns_for(str(tmp_path / "b.sqlite3"))
    assert turns_for(str(tmp_path / "a.sqlite3")) is turns_for(str(tmp_path / "a.sqlite3"))


@pytest.mark.parametrize(
    ("query", "writes"),
    [
        ('INSERT OR IGNORE INTO "t" VALUES (1)', True),
        ("  update t set a = 1", True),
        ("/* why */ DELETE FROM t", True),
        ("-- why\nINSERT INTO t VALUES (1)", True),
        ("WITH old AS (SELECT 1) UPDATE t SET a = 1", True),
        ("WITH old AS (SELECT 1) SELECT * FROM old", False),
        ("SELECT updated_at FROM t", False),
        ("DELETE FROM t", True),
        ("REPLACE INTO t VALUES (1)", True),
        ("SELECT * FROM t", False),
        ("PRAGMA journal_mode", False),
        ("BEGIN IMMEDIATE", False),
        ("", False),
    ],
)
def test_which_statements_are_writes(query, writes):
    assert is_write(query) is writes
