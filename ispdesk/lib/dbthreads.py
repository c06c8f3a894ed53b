"""Threads that run an event loop's blocking database work, each keeping its connection.

`sync_to_async` runs a function in a pool thread, and Django gives the thread's connection
back (to the pool, or closed) after each request; the next one is checked out with a health
check, a round trip of its own. For the webhook fast path at 1,000 deliveries a second,
that checkout, check and return cost a third of each delivery (issue 7). `DatabaseThreads`
runs calls on a fixed set of threads instead, and each thread keeps its connection from one
call to the next, as Django's persistent connections do:

- A connection idle for longer than `idle_check` seconds is given back before the next call,
  which then takes a checked one, as a request would: a server restarted, or a connection
  dropped by a timeout during a quiet night, costs no call.
- After a call during which a database error occurred, the connection is checked, and given
  back if it is unusable: that call failed (the webhook answered 503, and the gateway
  retries), the next one gets a working connection.
- `close()` stops the threads, each giving its connections back first; the next call starts
  them again. Tests close them after each test, so no connection outlives it.

Calls run without the caller's context variables, and in the order they were submitted, by
whichever thread is free.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import close_old_connections, connections

T = TypeVar("T")

IDLE_CHECK_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 5.0

_Job = tuple[Callable[..., Any], tuple[Any, ...], asyncio.AbstractEventLoop, asyncio.Future[Any]]

# Every instance, so tests can close them all (`close_all`).
_instances: list[DatabaseThreads] = []


class DatabaseThreads:
    def __init__(self, count: int, name: str, *, idle_check: float = IDLE_CHECK_SECONDS) -> None:
        self.count = count
        self.name = name
        self.idle_check = idle_check
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        _instances.append(self)

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` in one of the threads; its result, or what it raised."""
        if len(self._threads) < self.count:
            self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((function, args, loop, future))
        return await future

    def _start(self) -> None:
        with self._lock:
            while len(self._threads) < self.count:
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        last_call: float | None = None
        try:
            while (job := self._jobs.get()) is not None:
                function, args, loop, future = job
                if last_call is not None and time.monotonic() - last_call > self.idle_check:
                    close_old_connections()
                try:
                    result, error = function(*args), None
                except BaseException as exc:  # handed to the caller, as an executor would
                    result, error = None, exc
                finally:
                    last_call = time.monotonic()
                    release_unusable()
                # A closed loop (RuntimeError) means nobody waits for the answer.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_settle, future, result, error)
        finally:
            connections.close_all()

    def close(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop the threads once they finish their calls; each gives its connections back."""
        with self._lock:
            threads, self._threads = self._threads, []
            for _ in threads:
                self._jobs.put(None)
        for thread in threads:
            thread.join(timeout)


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


def close_all() -> None:
    """Stop every instance's threads (tests, after each test)."""
    for instance in list(_instances):
        instance.close()
