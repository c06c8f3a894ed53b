"""A lock that threads get in the order they asked for it."""

from __future__ import annotations

import threading
from collections import deque


class FairLock:
    """First come, first served: `release` hands the lock to the longest waiter.

    `threading.Lock` lets the releasing thread take the lock straight back, so a thread that
    holds it in a loop can keep others out for as long as it runs.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        # One locked Lock per waiting thread, released when the lock becomes its.
        self._waiting: deque[threading.Lock] = deque()

    def acquire(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the lock; False if it did not come."""
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
        if self._wait(turn, timeout):
            return True
        with self._mutex:
            if turn in self._waiting:
                self._waiting.remove(turn)
                return False
        return True  # handed over just as the wait ended: it is ours

    def _wait(self, turn: threading.Lock, timeout: float) -> bool:
        return turn.acquire(timeout=timeout)

    def release(self) -> None:
        with self._mutex:
            if not self._held:
                raise RuntimeError("release of an unheld FairLock")
            if self._waiting:
                self._waiting.popleft().release()  # still held: by the next waiter now
            else:
                self._held = False

    def locked(self) -> bool:
        return self._held

    def waiting(self) -> int:
        """How many threads wait for the lock."""
        with self._mutex:
            return len(self._waiting)
