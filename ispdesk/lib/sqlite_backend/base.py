"""Django's SQLite backend, with this process's writers taking turns.

SQLite lets one connection write at a time; a connection that finds the database locked
polls it with growing sleeps (up to 100 ms each) until its busy timeout. With the embedded
server's webhook threads, hand-over and sender all writing, a webhook's insert could lose
that race for a second while others kept getting in (issue 7). Here every write transaction,
and every write statement outside one, first waits its turn in a first-come-first-served
lock shared by the process's connections to the same file, so waits are queued instead of
polled. SQLite's own locking still guards the data (other processes, a turn given up on):
the turn only orders this process's writers, and waiting for it is bounded by the busy
timeout.
"""

from __future__ import annotations

import contextlib
import re
import threading
import weakref
from typing import Any

from django.db.backends.sqlite3 import base

from ispdesk.lib.fairlock import FairLock

# A write statement: its first word (after any comments), or a write after a WITH.
_WRITE = re.compile(
    r"(?:\s|/\*.*?\*/|--[^\n]*\n)*"
    r"(?:INSERT|UPDATE|DELETE|REPLACE|WITH\b.*\b(?:INSERT|UPDATE|DELETE|REPLACE))\b",
    re.IGNORECASE | re.DOTALL,
)

_turns: dict[str, FairLock] = {}
_turns_mutex = threading.Lock()


def turns_for(name: str) -> FairLock:
    """The process's writer queue for the database file `name`."""
    with _turns_mutex:
        return _turns.setdefault(name, FairLock())


def is_write(query: str) -> bool:
    return _WRITE.match(query) is not None


class TurnTakingCursor(base.SQLiteCursorWrapper):
    """Waits for the writers' turn before a write statement outside a transaction."""

    owner: DatabaseWrapper

    def execute(self, query: str, params: Any = None) -> Any:
        if self.connection.in_transaction or not is_write(query):
            return super().execute(query, params)
        with self.owner.write_turn():
            return super().execute(query, params)

    def executemany(self, query: str, param_list: Any) -> Any:
        if self.connection.in_transaction or not is_write(query):
            return super().executemany(query, param_list)
        with self.owner.write_turn():
            return super().executemany(query, param_list)


class _Turn:
    """The turn around one statement; kept when the statement opened a transaction (with
    autocommit off, sqlite3 begins one before a write), until it commits or rolls back."""

    def __init__(self, owner: DatabaseWrapper) -> None:
        self.owner = owner

    def __enter__(self) -> None:
        self.owner.take_turn()

    def __exit__(self, *exc: object) -> None:
        if not self.owner.connection.in_transaction:
            self.owner.end_turn()


class _ClosedWithThread:
    """The connections a thread opened, closed (and their turns given up) when the thread
    ends. Connections stay open across requests (CONN_MAX_AGE None: opening one costs more
    than a webhook's insert), but Django's ASGI handler runs each page's synchronous code in
    a thread of its own: without this, the connection of a finished thread would stay open
    until the garbage collector found its wrapper (two dozen at a time, seen in the demo)."""

    def __init__(self) -> None:
        self.open: list[DatabaseWrapper] = []

    def __del__(self) -> None:
        for wrapper in self.open:
            try:
                wrapper.end_turn()
            finally:
                with contextlib.suppress(Exception):
                    wrapper.connection.close()


_this_thread = threading.local()


def _thread_connections() -> _ClosedWithThread:
    if (held := getattr(_this_thread, "held", None)) is None:
        held = _this_thread.held = _ClosedWithThread()
    return held


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.held_turn: FairLock | None = None  # the queue whose turn this connection has
        # Weak: the thread's list refers to this wrapper, and a cycle would wait for the
        # garbage collector instead of closing as the thread ends.
        self.opened_in: weakref.ref[_ClosedWithThread] | None = None

    @property
    def turns(self) -> FairLock:
        return turns_for(str(self.settings_dict["NAME"]))

    def write_turn(self) -> _Turn:
        return _Turn(self)

    def take_turn(self) -> None:
        """Wait for this process's writers' turn, up to the busy timeout (then SQLite's own
        lock decides). Not for an in-memory database: each connection has its own."""
        if self.held_turn is not None or self.is_in_memory_db():
            return
        turns = self.turns
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        if turns.acquire(timeout):
            self.held_turn = turns

    def end_turn(self) -> None:
        turns, self.held_turn = self.held_turn, None
        if turns is not None:
            turns.release()

    def get_new_connection(self, conn_params: Any) -> Any:
        connection = super().get_new_connection(conn_params)
        held = _thread_connections()
        held.open.append(self)
        self.opened_in = weakref.ref(held)
        return connection

    def create_cursor(self, name: str | None = None) -> Any:
        cursor = self.connection.cursor(factory=TurnTakingCursor)
        cursor.owner = self
        return cursor

    def _start_transaction_under_autocommit(self) -> None:
        self.take_turn()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self.end_turn()
            raise

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]
        finally:
            self.end_turn()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self.end_turn()

    def _close(self) -> None:
        opened_in = self.opened_in() if self.opened_in is not None else None
        self.opened_in = None
        if opened_in is not None and self in opened_in.open:
            opened_in.open.remove(self)
        try:
            super()._close()  # type: ignore[misc]
        finally:
            self.end_turn()
