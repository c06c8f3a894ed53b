"""Database threads for the event loop (`lib.dbthreads`): each keeps its connection between
calls, checks it after an idle spell, and replaces it after an error made it unusable.

Connections are killed for real from another connection (PostgreSQL, MariaDB). An idle spell
is a short `idle_check`; tests wait for its effect (the connection given back), never a
fixed time.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import OperationalError, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from ispdesk.lib import dbthreads
from ispdesk.lib.dbthreads import DatabaseThreads
from ispdesk.testing.sockets import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

WAIT_SECONDS = 10.0
SERVER = connection.vendor in ("postgresql", "mysql")


@pytest.fixture
def threads() -> Iterator[DatabaseThreads]:
    started = DatabaseThreads(1, "test-db")
    yield started
    started.close()


@pytest.fixture
def closing_connections() -> Iterator[None]:
    """CONN_MAX_AGE=0, as served on PostgreSQL and MariaDB: a connection given back is
    closed (SQLite's stay open for their thread's life)."""
    settings_dict = connections["default"].settings_dict
    saved = settings_dict.get("CONN_MAX_AGE", 0)
    settings_dict["CONN_MAX_AGE"] = 0
    yield
    settings_dict["CONN_MAX_AGE"] = saved


def session_id() -> Any:
    """This thread's connection as the server knows it."""
    query = {
        "postgresql": "SELECT pg_backend_pid()",
        "mysql": "SELECT CONNECTION_ID()",
        "sqlite": "SELECT 1",
    }[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchone()[0]


def current() -> tuple[BaseDatabaseWrapper, Any, Any]:
    """This thread's wrapper, its open driver connection and its session id."""
    session = session_id()
    return connections["default"], connections["default"].connection, session


def _kill(session: Any) -> None:
    statement = {"postgresql": "SELECT pg_terminate_backend(%s)", "mysql": "KILL %s"}
    with connection.cursor() as cursor:
        cursor.execute(statement[connection.vendor], [session])


async def kill(session: Any) -> None:
    """End the session from another connection, as a restarted server would."""
    killer = DatabaseThreads(1, "test-killer")
    try:
        await killer.run(_kill, session)
    finally:
        killer.close()


async def test_a_call_returns_its_result_or_raises_its_error(threads):
    assert await threads.run(sum, [1, 2, 3]) == 6
    with pytest.raises(ZeroDivisionError):
        await threads.run(divmod, 1, 0)
    assert await threads.run(str.upper, "sigue") == "SIGUE"  # the thread goes on


async def test_a_thread_keeps_its_connection_between_calls(threads, closing_connections):
    wrapper, first, _ = await threads.run(current)
    _, second, _ = await threads.run(current)
    assert first is not None
    assert second is first
    assert wrapper is not connections["default"]  # the thread's own, not the caller's


IDLE = 0.05


def given_back(wrapper: BaseDatabaseWrapper) -> None:
    """Wait until an idle thread has given its connection back."""
    wait_until(
        lambda: wrapper.connection is None, timeout=WAIT_SECONDS, message="the idle connection"
    )


async def test_an_idle_thread_gives_its_connection_back_and_the_next_call_takes_another(
    closing_connections,
):
    idle = DatabaseThreads(1, "test-idle", idle_check=IDLE)
    try:
        wrapper, first, _ = await idle.run(current)
        given_back(wrapper)
        _, second, _ = await idle.run(current)
    finally:
        idle.close()
    assert second is not first


async def test_failed_housekeeping_is_logged_and_the_thread_goes_on(threads, monkeypatch, caplog):
    def broken() -> None:
        raise RuntimeError("cannot close")

    monkeypatch.setattr(dbthreads, "release_unusable", broken)
    assert await threads.run(sum, [1, 1]) == 2
    assert await threads.run(sum, [2, 2]) == 4
    assert "could not tidy" in caplog.text


async def test_closing_stops_the_threads_and_gives_their_connections_back(closing_connections):
    many = DatabaseThreads(3, "test-close")
    wrapper, _, _ = await many.run(current)
    stopped = list(many._threads)
    assert len(stopped) == 3
    many.close()
    assert not any(thread.is_alive() for thread in stopped)
    assert wrapper.connection is None
    # The next call starts them again.
    assert await many.run(sum, [2, 2]) == 4
    many.close()


async def test_a_caller_that_stops_waiting_leaves_the_thread_working(threads):
    started, release = threading.Event(), threading.Event()

    def blocked() -> str:
        started.set()
        release.wait(WAIT_SECONDS)
        return "tarde"

    waiting = asyncio.ensure_future(threads.run(blocked))
    assert await asyncio.to_thread(started.wait, WAIT_SECONDS)
    waiting.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await threads.run(str.lower, "OK") == "ok"


class TestKilledConnections:
    """Collected on PostgreSQL and MariaDB: SQLite has no server to kill a connection."""

    __test__ = SERVER

    async def test_one_killed_by_the_server_fails_one_call_and_is_replaced(
        self, threads, closing_connections
    ):
        _, _, session = await threads.run(current)
        await kill(session)

        with pytest.raises(OperationalError):
            await threads.run(session_id)
        _, driver, replaced = await threads.run(current)

        assert replaced != session
        assert driver is not None

    async def test_one_killed_during_an_idle_spell_costs_no_call(self, closing_connections):
        idle = DatabaseThreads(1, "test-idle-kill", idle_check=IDLE)
        try:
            wrapper, _, session = await idle.run(current)
            await kill(session)
            given_back(wrapper)
            replaced = await idle.run(session_id)
        finally:
            idle.close()
        assert replaced != session
