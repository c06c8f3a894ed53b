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
        self._owner: int | None = None  # the thread that holds it
        # One locked Lock per waiting thread, released when the lock becomes its.
        self._waiting: deque[tuple[threading.Lock, int]] = deque()

    def acquire(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the lock; False if it did not come, or at once
        if this thread holds it already (it would wait for itself)."""
        me = threading.get_ident()
        with self._mutex:
            if not self._held:
                self._held, self._owner = True, me
                return True
            if self._owner == me:
                return False
            turn = threading.Lock()
            turn.acquire()
            entry = (turn, me)
            self._waiting.append(entry)
        try:
            if self._wait(turn, timeout):
                return True
        except BaseException:
            # Interrupted (KeyboardInterrupt, SystemExit from a signal handler): leave the
            # queue, or pass the lock on if it was handed over meanwhile.
            if not self._leave(entry):
                self.release()
            raise
        return not self._leave(entry)  # handed over just as the wait ended: it is ours

    def _leave(self, entry: tuple[threading.Lock, int]) -> bool:
        """Take a waiter out of the queue; False if it was handed the lock already."""
        with self._mutex:
            if entry in self._waiting:
                self._waiting.remove(entry)
                return True
            return False

    def _wait(self, turn: threading.Lock, timeout: float) -> bool:
        return turn.acquire(timeout=timeout)

    def release(self) -> None:
        with self._mutex:
            if not self._held:
                raise RuntimeError("release of an unheld FairLock")
            if self._waiting:
                turn, self._owner = self._waiting.popleft()
                turn.release()  # still held: by the next waiter now
            else:
                self._held, self._owner = False, None

    def locked(self) -> bool:
        return self._held

    def waiting(self) -> int:
        """How many threads wait for the lock."""
        with self._mutex:
            return len(self._waiting)
