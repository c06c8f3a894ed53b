"""A loop's passes are spaced when woken often, and never held when it has a backlog or after
a quiet moment."""

from __future__ import annotations

import itertools
import threading
import time

from ispdesk.lib.loops import WakeableLoop

JOIN_TIMEOUT = 10.0


class Recorded(WakeableLoop):
    """Records when each pass started (by the loop's clock) and stops after `passes`."""

    def __init__(self, spacing: float, passes: int, *, full: bool = False, busy: bool = False):
        super().__init__(poll_seconds=60.0, spacing=spacing)
        self.passes = passes
        self.full = full  # every pass says more is waiting
        self.busy = busy  # something new arrives during every pass
        self.starts: list[float] = []
        self.passed = threading.Event()

    def run_once(self) -> float:
        self.starts.append(self.clock())
        self.passed.set()
        if len(self.starts) >= self.passes:
            self.stop()
        if self.busy:
            self.wake()
        return 0 if self.full else self.poll_seconds


def run_in_thread(loop: WakeableLoop) -> threading.Thread:
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    return thread


def test_passes_woken_during_the_last_one_start_a_spacing_apart():
    loop = Recorded(spacing=0.05, passes=5, busy=True)

    run_in_thread(loop).join(JOIN_TIMEOUT)

    assert len(loop.starts) == 5
    gaps = [later - earlier for earlier, later in itertools.pairwise(loop.starts)]
    assert min(gaps) >= 0.05, gaps


def test_full_passes_run_back_to_back():
    loop = Recorded(spacing=30.0, passes=5, full=True, busy=True)
    began = time.monotonic()

    run_in_thread(loop).join(JOIN_TIMEOUT)

    assert len(loop.starts) == 5
    assert time.monotonic() - began < 30.0


def test_a_wake_up_after_a_quiet_moment_is_not_held():
    loop = Recorded(spacing=30.0, passes=2)
    now = [1000.0]
    loop.clock = lambda: now[0]
    thread = run_in_thread(loop)
    assert loop.passed.wait(JOIN_TIMEOUT)
    loop.passed.clear()

    now[0] += 31.0  # longer ago than the spacing
    loop.wake()

    assert loop.passed.wait(JOIN_TIMEOUT)
    thread.join(JOIN_TIMEOUT)
    assert loop.starts == [1000.0, 1031.0]


def test_a_loop_holding_between_passes_stops_at_once():
    loop = Recorded(spacing=30.0, passes=100, busy=True)
    thread = run_in_thread(loop)
    assert loop.passed.wait(JOIN_TIMEOUT)

    loop.stop()
    thread.join(JOIN_TIMEOUT)

    assert not thread.is_alive()
    assert len(loop.starts) == 1


def test_no_spacing_runs_a_woken_pass_at_once():
    loop = Recorded(spacing=0.0, passes=3, busy=True)
    now = [5.0]
    loop.clock = lambda: now[0]  # never moves: any hold would last forever

    run_in_thread(loop).join(JOIN_TIMEOUT)

    assert loop.starts == [5.0, 5.0, 5.0]
