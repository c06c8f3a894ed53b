"""Bundled events: collected in a block, sent one bundle per group; a long block's bundles
go out once they are old enough (`bundled_events(flush_after=...)`)."""

from __future__ import annotations

from typing import Any

import pytest

from ispdesk.realtime import events
from ispdesk.realtime.events import bundled_events, publish_now


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The bundles sent, as lists of event types."""
    bundles: list[list[str]] = []

    def record(collected: list[tuple[list[str], dict[str, Any], int]]) -> None:
        if collected:
            bundles.append([event["type"] for _groups, event, _id in collected])

    monkeypatch.setattr(events, "_send_bundles", record)
    return bundles


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [100.0]
    monkeypatch.setattr(events, "_clock", lambda: now[0])
    return now


def test_a_bundle_waits_for_the_end_of_its_block(sent, clock):
    with bundled_events():
        publish_now(["role.admin"], {"type": "a"})
        clock[0] += 60
        publish_now(["role.admin"], {"type": "b"})
        assert sent == []

    assert sent == [["a", "b"]]


def test_a_long_block_sends_its_bundle_once_it_is_old_enough(sent, clock):
    with bundled_events(flush_after=0.1):
        publish_now(["role.admin"], {"type": "a"})
        clock[0] += 0.05
        publish_now(["role.admin"], {"type": "b"})
        assert sent == []
        clock[0] += 0.06
        publish_now(["role.admin"], {"type": "c"})
        assert sent == [["a", "b", "c"]]
        clock[0] += 0.01
        publish_now(["role.admin"], {"type": "d"})
        assert sent == [["a", "b", "c"]]

    assert sent == [["a", "b", "c"], ["d"]]


def test_an_inner_block_leaves_the_sending_to_the_outer_one(sent, clock):
    with bundled_events():
        with bundled_events(flush_after=0.1):
            publish_now(["role.admin"], {"type": "a"})
            clock[0] += 1
            publish_now(["role.admin"], {"type": "b"})
        assert sent == []

    assert sent == [["a", "b"]]
