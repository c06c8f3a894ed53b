"""`remembered` computes once per key inside a `memo_scope`, every time outside one."""

from __future__ import annotations

import threading

from ispdesk.lib.memo import memo_scope, remembered


def test_outside_a_scope_every_call_computes():
    calls: list[int] = []
    assert [remembered("k", lambda: calls.append(1) or len(calls)) for _ in range(3)] == [1, 2, 3]


def test_inside_a_scope_each_key_is_computed_once_and_forgotten_at_the_end():
    calls: list[str] = []

    def compute(key: str) -> str:
        calls.append(key)
        return key.upper()

    with memo_scope():
        first = [remembered(key, lambda key=key: compute(key)) for key in ("a", "b", "a", "b")]
        with memo_scope():  # a nested block shares the outer one's values
            assert remembered("a", lambda: compute("a")) == "A"
    assert first == ["A", "B", "A", "B"]
    assert calls == ["a", "b"]
    assert remembered("a", lambda: compute("a")) == "A"
    assert calls == ["a", "b", "a"]


def test_a_scope_belongs_to_its_thread():
    seen: list[int] = []
    with memo_scope():
        remembered("k", lambda: 1)
        thread = threading.Thread(target=lambda: seen.append(remembered("k", lambda: 2)))
        thread.start()
        thread.join()
    assert seen == [2]
