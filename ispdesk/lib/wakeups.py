"""Waking background loops in other processes, through PostgreSQL's LISTEN/NOTIFY.

A loop sleeps between passes and `wake()` cuts the sleep short. A loop naming a
`wake_channel` registers its `wake` here while it runs (`register`), and `wake(channel)`
calls the ones registered in this process. When no loop of the kind runs here (a hand-over
process queueing bot replies for a sender in another process), the wake-up goes through the
database instead. (A web process storing a webhook's messages sends nothing itself: the
inbound table's trigger notifies the hand-over channel, `messaging.stored_wakeup`.)

- `notify(channel)` runs `SELECT pg_notify(channel, '')` on this thread's connection. It is
  called after the work it announces has committed (from `on_commit`), so a loop woken by it
  finds that work. Inside an atomic block it waits for the commit itself, and a rollback
  drops it. It never raises: a lost wake-up costs one poll interval, never the work.
- `WakeListener` is a daemon thread with a connection of its own that LISTENs on the
  channels of the loops running in its process and calls their `wake`. If the connection
  drops it reconnects with a back-off; after every connection (the first one included) it
  calls each callback once, since work may have committed while nobody listened.

Nothing is coalesced: one statement per call. (Skipping a notify because one went out a
moment ago could lose the wake-up for work committed in between.) On other databases
`notify` does nothing and there is no listener: the loops poll, as before.

`listen_for(loops)` starts the listener a process needs for the loops it runs, each loop
class naming its channel in `wake_channel`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

if TYPE_CHECKING:
    import psycopg
    from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)

# PostgreSQL channel names (identifiers: lowercase, so `LISTEN ispdesk_sender` works in psql).
HAND_OVER = "ispdesk_hand_over"
SENDER = "ispdesk_sender"

# How long the listener waits for notifications before looking at its stop event.
STOP_CHECK_SECONDS = 1.0
FIRST_RECONNECT_WAIT_SECONDS = 1.0
MAX_RECONNECT_WAIT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 5
STOP_TIMEOUT_SECONDS = 5.0

Callback = Callable[[], None]

# The loops running in this process, by channel (`register`).
_registered: dict[str, list[Callback]] = {}


def register(channel: str, callback: Callback) -> None:
    _registered.setdefault(channel, []).append(callback)


def unregister(channel: str, callback: Callback) -> None:
    callbacks = _registered.get(channel, [])
    if callback in callbacks:
        callbacks.remove(callback)


def registered(channel: str) -> list[Callback]:
    return list(_registered.get(channel, ()))


def wake(channel: str) -> None:
    """Wake this process's loops of `channel`, or when none runs here, every process's."""
    callbacks = registered(channel)
    if not callbacks:
        notify(channel)
    for callback in callbacks:
        callback()


def notify(channel: str) -> None:
    """Wake the loops listening on `channel` in every process (PostgreSQL only).

    Outside a transaction the notification goes out at once; inside an atomic block it goes
    out after the commit, and not at all on rollback. Failures are logged, never raised.
    """
    if connection.vendor != "postgresql":
        return
    if connection.in_atomic_block:
        # A failed statement here would break the caller's transaction; after commit it
        # breaks nothing.
        transaction.on_commit(partial(_send, channel))
        return
    _send(channel)


def _send(channel: str) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [channel])
    except Exception as exc:
        logger.warning(
            "could not notify %s (%s: %s); the loops will find the work by polling",
            channel,
            type(exc).__name__,
            exc,
        )


def connect_params(wrapper: BaseDatabaseWrapper) -> dict[str, Any]:
    """psycopg.connect arguments for a connection of the listener's own to `wrapper`'s
    database: Django's (its `pool` options already left out) without the cursor class and
    adapters Django binds to its own connections."""
    params = dict(wrapper.get_connection_params())
    for key in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(key, None)
    params.setdefault("application_name", "ispdesk-wakeups")
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    # The connection sits idle for hours: keepalives stop a firewall or NAT from dropping it
    # unnoticed, and make a vanished server an error within about a minute.
    params.setdefault("keepalives", 1)
    params.setdefault("keepalives_idle", 30)
    params.setdefault("keepalives_interval", 10)
    params.setdefault("keepalives_count", 3)
    return params


class WakeListener:
    """Calls the callbacks registered with `on(channel, callback)` when `channel` is
    notified, from a daemon thread with its own connection. Register callbacks, `start()`,
    and `stop()` when done. `for_database()` gives None unless the database is PostgreSQL.

    Callbacks run in the listener's thread: they should be quick (a loop's `wake`)."""

    stop_check = STOP_CHECK_SECONDS
    first_reconnect_wait = FIRST_RECONNECT_WAIT_SECONDS
    max_reconnect_wait = MAX_RECONNECT_WAIT_SECONDS

    def __init__(self, params: dict[str, Any]) -> None:
        self._params = params  # holds the password: never logged
        self._callbacks: dict[str, list[Callback]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The server process of the current connection (None while disconnected).
        self.backend_pid: int | None = None

    @classmethod
    def for_database(cls, alias: str = DEFAULT_DB_ALIAS) -> WakeListener | None:
        wrapper = connections[alias]
        if wrapper.vendor != "postgresql":
            return None
        return cls(connect_params(wrapper))

    @property
    def channels(self) -> list[str]:
        return list(self._callbacks)

    def on(self, channel: str, callback: Callback) -> None:
        if self._thread is not None:
            raise RuntimeError("register callbacks before start(): LISTEN runs as it connects")
        self._callbacks.setdefault(channel, []).append(callback)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the listener was started already")
        self._thread = threading.Thread(target=self._run, name="ispdesk-wakeups", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop listening and close the connection: within about `stop_check` seconds,
        unless a connection attempt is under way (up to `CONNECT_TIMEOUT_SECONDS`)."""
        self._stop.set()
        if self._thread is None:
            return
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("the wake-up listener did not stop within %ss", timeout)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                conn = self._connect()
            except Exception as exc:
                failures += 1
                self._wait_to_reconnect("could not connect", exc, failures)
                continue
            failures = 1  # a drop waits `first_reconnect_wait`; each failed retry, twice that
            lost: Exception | None = None
            try:
                # Work committed before this connection listened (before the first one, or
                # while the last one was lost) had its notification missed.
                for channel in self._callbacks:
                    self._call(channel)
                while not self._stop.is_set():
                    for notification in conn.notifies(timeout=self.stop_check):
                        self._call(notification.channel)
            except Exception as exc:
                lost = exc
            finally:
                self.backend_pid = None
                conn.close()
            if lost is not None:
                self._wait_to_reconnect("lost its connection", lost, failures)

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg
        from psycopg import sql

        conn = psycopg.connect(**self._params, autocommit=True)
        try:
            for channel in self._callbacks:
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except BaseException:
            conn.close()
            raise
        self.backend_pid = conn.info.backend_pid
        return conn

    def _wait_to_reconnect(self, what: str, exc: Exception, failures: int) -> None:
        if self._stop.is_set():
            return
        wait = min(self.first_reconnect_wait * 2 ** (failures - 1), self.max_reconnect_wait)
        # The exception's text, never the parameters: they hold the password.
        logger.warning(
            "wake-up listener %s (%s: %s); the loops poll until it reconnects in %gs",
            what,
            type(exc).__name__,
            exc,
            wait,
        )
        self._stop.wait(wait)

    def _call(self, channel: str) -> None:
        for callback in self._callbacks.get(channel, ()):
            try:
                callback()
            except Exception:
                logger.exception("wake-up callback for %s failed", channel)


def listen_for(loops: Iterable[Any]) -> WakeListener | None:
    """Start a listener that wakes each of `loops` whose class names a `wake_channel` (a
    loop of another kind, the job scheduler's, has none).

    None when there is nothing to listen for or nowhere to listen (not PostgreSQL);
    otherwise `stop()` the listener when stopping the loops.
    """
    wanted = [
        (channel, loop.wake) for loop in loops if (channel := getattr(loop, "wake_channel", None))
    ]
    listener = WakeListener.for_database() if wanted else None
    if listener is None:
        return None
    for channel, wake in wanted:
        listener.on(channel, wake)
    listener.start()
    return listener
