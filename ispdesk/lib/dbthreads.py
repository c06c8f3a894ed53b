"""Threads that run an event loop's blocking database work, each keeping its connection.

`sync_to_async` runs a function in a pool thread, and Django gives the thread's connection
back (to the pool, or closed) after each request; the next one is checked out with a health
check, a round trip of its own. For the webhook fast path at 1,000 deliveries a second,
that checkout, check and return cost a third of each delivery (issue 7). `DatabaseThreads`
runs calls on a fixed set of threads instead, and each thread keeps its connection from one
call to the next, as Django's persistent connections do:

- A thread left without calls for `idle_check` seconds tidies its connection as Django does
  at the end of a request (`close_old_connections`): with the pool, or CONN_MAX_AGE=0, it is
  given back, and the next call takes a checked one; a persistent connection is kept and
  health-checked at its next use. A server restarted, or a connection dropped by a timeout
  during a quiet night, costs no call, and a quiet pool can shrink.
- After a call during which a database error occurred, the connection is checked, and given
  back if it is unusable: that call failed (the webhook answered 503, and the gateway
  retries), the next one gets a working connection.
- Housekeeping that fails (a connection that cannot even be closed) is logged and drops the
  connection; the thread goes on serving. A thread that died anyway is replaced.
- `close()` stops the threads, each giving its connections back first; the next call starts
  them again. Tests close them after each test, so no connection outlives it, and the
  process closes them as it exits.

Calls run without the caller's context variables, and in the order they were submitted, by
whichever thread is free.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import close_old_connections, connections

T = TypeVar("T")

logger = logging.getLogger(__name__)

IDLE_CHECK_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 5.0
EXIT_TIMEOUT_SECONDS = 1.0

_Job = tuple[Callable[..., Any], tuple[Any, ...], asyncio.AbstractEventLoop, asyncio.Future[Any]]

# Every instance, so tests (after each test) and the process's exit can close them all.
_instances: weakref.WeakSet[DatabaseThreads] = weakref.WeakSet()


class DatabaseThreads:
    def __init__(self, count: int, name: str, *, idle_check: float = IDLE_CHECK_SECONDS) -> None:
        self.count = count
        self.name = name
        self.idle_check = idle_check
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        _instances.add(self)

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` in one of the threads; its result, or what it raised."""
        if len(self._threads) < self.count or not all(t.is_alive() for t in self._threads):
            self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((function, args, loop, future))
        return await future

    def _start(self) -> None:
        with self._lock:
            self._threads = [thread for thread in self._threads if thread.is_alive()]
            while len(self._threads) < self.count:
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        try:
            while True:
                try:
                    job = self._jobs.get(timeout=self.idle_check)
                except queue.Empty:
                    _tend(close_old_connections)  # idle: give the connection back
                    continue
                if job is None:
                    return
                function, args, loop, future = job
                try:
                    result, error = function(*args), None
                except BaseException as exc:  # handed to the caller, as an executor would
                    result, error = None, exc
                _tend(release_unusable)
                # A closed loop (RuntimeError) means nobody waits for the answer.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_settle, future, result, error)
        finally:
            _tend(connections.close_all)

    def close(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop the threads once they finish their calls; each gives its connections back."""
        with self._lock:
            threads, self._threads = self._threads, []
            for _ in threads:
                self._jobs.put(None)
        for thread in threads:
            thread.join(timeout)


def _tend(step: Callable[[], None]) -> None:
    """Run a step of connection housekeeping; a failure (a connection that cannot even be
    closed) is logged and leaves the thread serving, with that connection dropped."""
    try:
        step()
    except Exception:
        logger.exception("database thread: could not tidy its connections; dropping them")
        for wrapper in connections.all(initialized_only=True):
            wrapper.connection = None


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return  # the caller stopped waiting (the sender hung up)
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def release_unusable() -> None:
    """Give back this thread's connections that a database error left unusable, or that a
    call left inside a transaction; keep the others."""
    for wrapper in connections.all(initialized_only=True):
        if wrapper.connection is None:
            continue
        if wrapper.get_autocommit() != wrapper.settings_dict["AUTOCOMMIT"]:
            wrapper.close()
        elif wrapper.errors_occurred:
            if wrapper.is_usable():
                wrapper.errors_occurred = False
            else:
                wrapper.close()


def close_all(timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """Stop every instance's threads: after each test, and as the process exits (the
    database then sees each connection closed, not dropped)."""
    for instance in list(_instances):
        instance.close(timeout)


atexit.register(close_all, EXIT_TIMEOUT_SECONDS)
