"""The first-come-first-served lock the SQLite writers queue on."""

from __future__ import annotations

import os
import threading

import pytest

from ispdesk.lib.fairlock import FairLock
from ispdesk.testing.sockets import wait_until

TIMEOUT = 10


def start(target: object) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


def test_a_free_lock_is_taken_at_once_and_freed_by_release():
    lock = FairLock()

    assert lock.acquire(timeout=0)
    assert lock.locked()
    assert not lock.acquire(timeout=0)
    lock.release()
    assert not lock.locked()


def test_waiters_get_the_lock_in_the_order_they_asked_for_it():
    lock = FairLock()
    order: list[int] = []
    lock.acquire(timeout=0)

    def waiter(number: int) -> None:
        assert lock.acquire(timeout=TIMEOUT)
        order.append(number)
        lock.release()

    threads = []
    for number in range(6):
        threads.append(start(lambda number=number: waiter(number)))
        wait_until(lambda n=number: lock.waiting() == n + 1, timeout=TIMEOUT, message="queued")
    lock.release()
    for thread in threads:
        thread.join(TIMEOUT)

    assert order == [0, 1, 2, 3, 4, 5]
    assert not lock.locked()


def test_the_releasing_thread_cannot_take_the_lock_back_ahead_of_a_waiter():
    lock = FairLock()
    lock.acquire(timeout=0)
    got: list[bool] = []
    held = threading.Event()
    done = threading.Event()

    def waiter() -> None:
        got.append(lock.acquire(timeout=TIMEOUT))
        held.set()
        done.wait(TIMEOUT)
        lock.release()

    thread = start(waiter)
    wait_until(lambda: lock.waiting() == 1, timeout=TIMEOUT, message="queued")
    lock.release()

    assert not lock.acquire(timeout=0)  # handed to the waiter, not free for the taking
    assert held.wait(TIMEOUT)
    done.set()
    thread.join(TIMEOUT)
    assert got == [True]
    assert lock.acquire(timeout=0)


def test_a_wait_that_times_out_leaves_the_queue_and_the_lock_as_they_were():
    lock = FairLock()
    lock.acquire(timeout=0)
    results: list[bool] = []

    thread = start(lambda: results.append(lock.acquire(timeout=0.05)))
    thread.join(TIMEOUT)

    assert results == [False]
    assert lock.waiting() == 0
    assert lock.locked()
    lock.release()
    assert not lock.locked()  # nobody left to hand it to


def test_a_waiter_whose_wait_ends_as_the_lock_is_handed_to_it_keeps_it():
    class HandedAsTheWaitEnds(FairLock):
        def _wait(self, turn: threading.Lock, timeout: float) -> bool:
            self.release()  # the holder hands the lock over...
            return False  # ...just as this waiter's timeout fires

    lock = HandedAsTheWaitEnds()
    start(lambda: lock.acquire(timeout=0)).join(TIMEOUT)  # held by another thread

    assert lock.acquire(timeout=0.01)
    assert lock.locked()
    assert lock.waiting() == 0
    lock.release()
    assert not lock.locked()


def test_a_thread_that_holds_the_lock_does_not_wait_for_itself():
    lock = FairLock()
    lock.acquire(timeout=0)

    assert lock.acquire(timeout=TIMEOUT) is False  # at once, not after the timeout
    assert lock.waiting() == 0
    lock.release()
    assert not lock.locked()


class Interrupted(BaseException):
    pass


def held_elsewhere(lock: FairLock) -> None:
    start(lambda: lock.acquire(timeout=0)).join(TIMEOUT)
    assert lock.locked()


def test_an_interrupted_wait_leaves_the_queue():
    class InterruptedWait(FairLock):
        def _wait(self, turn: threading.Lock, timeout: float) -> bool:
            raise Interrupted

    lock = InterruptedWait()
    held_elsewhere(lock)

    with pytest.raises(Interrupted):
        lock.acquire(timeout=TIMEOUT)
    assert lock.waiting() == 0
    lock.release()
    assert not lock.locked()  # not handed to the thread that gave up


def test_a_wait_interrupted_as_the_lock_is_handed_over_passes_it_on():
    class HandedThenInterrupted(FairLock):
        def _wait(self, turn: threading.Lock, timeout: float) -> bool:
            self.release()
            raise Interrupted

    lock = HandedThenInterrupted()
    held_elsewhere(lock)

    with pytest.raises(Interrupted):
        lock.acquire(timeout=TIMEOUT)
    assert not lock.locked()
    assert lock.acquire(timeout=0)


def test_releasing_a_free_lock_is_an_error():
    with pytest.raises(RuntimeError, match="unheld"):
        FairLock().release()


def test_one_thread_at_a_time_holds_it():
    lock = FairLock()
    inside = 0
    most_inside = 0
    counter = 0
    guard = threading.Lock()

    def worker() -> None:
        nonlocal inside, most_inside, counter
        for _ in range(300):
            assert lock.acquire(timeout=TIMEOUT)
            with guard:
                inside += 1
                most_inside = max(most_inside, inside)
            value = counter
            os.sched_yield()  # let the other threads run inside the critical section
            counter = value + 1
            with guard:
                inside -= 1
            lock.release()

    threads = [start(worker) for _ in range(4)]
    for thread in threads:
        thread.join(TIMEOUT * 3)

    assert most_inside == 1
    assert counter == 1200
    assert not lock.locked()
