"""The skeleton of a background loop (a thread in `ispdesk serve`, in `ispdesk worker`).

It runs passes until stopped. Each pass says how long to sleep before the next; `wake()`
cuts the sleep short (work queued in this process, or on PostgreSQL in another one: a loop
class naming a `wake_channel` is registered under it in `ispdesk.lib.wakeups` while it
runs). A pass that raises
is logged and the loop backs off exponentially; it never ends the loop. Database connections
are refreshed around each pass (a pooled one goes back to the pool while the loop sleeps)
and closed when the loop ends (the thread would otherwise keep its own).

A loop with a `spacing` starts passes at least that far apart unless the last one said more
was waiting (0). Woken by every webhook in a storm, a loop would otherwise run a pass for
every few messages, and each pass has costs that do not depend on its size (a lock, a
listing, the calendar, one event per console and group): gathered, the same messages cost
less CPU, the machine's and the consoles'. An isolated wake-up after a quiet moment still
runs at once; a backlog (full passes) still runs back to back.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections, connections

from ispdesk.lib import wakeups

logger = logging.getLogger(__name__)

MAX_FAILURE_WAIT_SECONDS = 60.0
# Backoff stops doubling after this many failures in a row.
MAX_DOUBLINGS = 6


class WakeableLoop:
    name = "loop"
    max_failure_wait = MAX_FAILURE_WAIT_SECONDS
    # The `ispdesk.lib.wakeups` channel other processes notify when they queue this loop's
    # work; None: it is woken only from its own process, or by polling.
    wake_channel: str | None = None

    def __init__(self, poll_seconds: float, spacing: float = 0.0) -> None:
        self.poll_seconds = poll_seconds
        self.spacing = spacing
        self.clock = time.monotonic  # where spacing is measured (tests turn it by hand)
        self.stop_event = threading.Event()
        self.wake_event = threading.Event()

    def wake(self) -> None:
        self.wake_event.set()

    def stop(self) -> None:
        self.stop_event.set()
        self.wake_event.set()

    def run_once(self) -> float:
        """One pass; returns how long to sleep before the next (0: go on at once)."""
        raise NotImplementedError

    def started(self) -> None:
        """Called in the loop's thread before the first pass (register wakers here)."""

    def stopped(self) -> None:
        """Called in the loop's thread after the last pass."""

    def run(self) -> None:
        failures = 0
        delay = self.poll_seconds
        last_start = float("-inf")
        if self.wake_channel:
            wakeups.register(self.wake_channel, self.wake)
        try:
            self.started()
            while not self.stop_event.is_set():
                if delay > 0 and self.spacing > 0:
                    hold = last_start + self.spacing - self.clock()
                    if hold > 0 and self.stop_event.wait(hold):
                        break
                self.wake_event.clear()  # a wake-up during the pass means "look again"
                last_start = self.clock()
                try:
                    close_old_connections()
                    delay = self.run_once()
                    failures = 0
                except Exception:
                    failures += 1
                    logger.exception("%s pass failed (%s in a row)", self.name, failures)
                    backoff = self.poll_seconds * 2 ** min(failures, MAX_DOUBLINGS)
                    delay = min(backoff, self.max_failure_wait)
                # As at the end of a request: a pooled connection goes back to the pool
                # instead of being kept by a sleeping loop.
                close_old_connections()
                if delay > 0:
                    self.wake_event.wait(delay)
        finally:
            if self.wake_channel:
                wakeups.unregister(self.wake_channel, self.wake)
            self.stopped()
            # This thread's connection would otherwise outlive it (and block test teardown).
            connections.close_all()
