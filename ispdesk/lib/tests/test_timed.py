"""`TimedCache`: loaded once per period, forgotten on clear, and a load racing a clear is
not kept."""

from __future__ import annotations

import threading

from ispdesk.lib.timed import TimedCache


def test_it_loads_once_until_cleared_or_asked_for_a_fresh_value():
    loads: list[int] = []
    cache = TimedCache(lambda: loads.append(1) or len(loads), seconds=3600)

    assert [cache.get(), cache.get()] == [1, 1]
    assert cache.get(fresh=True) == 2
    assert cache.get() == 2
    cache.clear()
    assert cache.get() == 3


def test_a_value_older_than_its_period_is_loaded_again():
    loads: list[int] = []
    cache = TimedCache(lambda: loads.append(1) or len(loads), seconds=0)

    assert [cache.get(), cache.get()] == [1, 2]


def test_a_load_that_began_before_a_clear_is_not_kept():
    started, go_on = threading.Event(), threading.Event()
    values = iter(["stale", "fresh"])

    def slow_load() -> str:
        value = next(values)
        if value == "stale":
            started.set()
            go_on.wait(10)
        return value

    cache = TimedCache(slow_load, seconds=3600)
    seen: list[str] = []
    loader = threading.Thread(target=lambda: seen.append(cache.get()))
    loader.start()
    started.wait(10)
    cache.clear()  # a change saved while the load was reading
    go_on.set()
    loader.join(10)

    assert seen == ["stale"]  # that caller gets what it read…
    assert cache.get() == "fresh"  # …but nobody after it
