"""The publisher thread: threads hand it their sends and go on; it sends them in order."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from ispdesk.realtime import events
from ispdesk.realtime.events import _Publisher


class GatedLayer:
    """A layer (as `realtime.layers`) that records each call and holds the first until the
    test opens the gate; a call for the group "fail" raises, one for "hang" never ends."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.gate = threading.Event()

    async def group_send_many(self, sends: list[tuple[str, dict[str, Any]]]) -> None:
        group = sends[0][0]
        if group == "first":
            await asyncio.get_running_loop().run_in_executor(None, self.gate.wait, 10)
        if group == "fail":
            raise ConnectionError("redis went away")
        if group == "hang":
            await asyncio.sleep(3600)
        self.sent.append(group)


@pytest.fixture(autouse=True)
def publishers(monkeypatch):
    """Every publisher a test makes is closed after it."""
    made: list[_Publisher] = []
    original = _Publisher.__init__

    def remember(self: _Publisher) -> None:
        original(self)
        made.append(self)

    monkeypatch.setattr(_Publisher, "__init__", remember)
    yield
    for publisher in made:
        publisher.close()


def send(publisher: _Publisher, layer: GatedLayer, group: str) -> None:
    publisher.submit(layer, [(group, {"type": "event.forward", "event": {"type": "x"}})])  # type: ignore[arg-type]


def test_the_caller_goes_on_while_the_layer_is_busy_and_the_sends_keep_their_order():
    publisher, layer = _Publisher(), GatedLayer()

    send(publisher, layer, "first")  # held by the layer until the gate opens
    for n in range(20):
        send(publisher, layer, f"g{n}")  # queued behind it: submit did not wait
    assert layer.sent == []
    layer.gate.set()
    publisher.drain()

    assert layer.sent == ["first", *(f"g{n}" for n in range(20))]


def test_a_failing_send_is_logged_and_the_next_ones_still_go(caplog):
    publisher, layer = _Publisher(), GatedLayer()
    layer.gate.set()

    with caplog.at_level(logging.ERROR, logger="ispdesk.realtime.events"):
        for group in ("a", "fail", "b"):
            send(publisher, layer, group)
        publisher.drain()

    assert layer.sent == ["a", "b"]
    assert "could not publish to 1 groups" in caplog.text
    assert "redis went away" in caplog.text


def test_a_hung_send_is_given_up_so_the_next_ones_are_not_stuck_behind_it(monkeypatch, caplog):
    monkeypatch.setattr(events, "SEND_TIMEOUT_SECONDS", 0.2)
    publisher, layer = _Publisher(), GatedLayer()

    with caplog.at_level(logging.ERROR, logger="ispdesk.realtime.events"):
        send(publisher, layer, "hang")
        send(publisher, layer, "after")
        publisher.drain(timeout=10)

    assert layer.sent == ["after"]
    assert "could not publish" in caplog.text


def test_with_the_queue_full_a_caller_waits_for_room_instead_of_growing_it(monkeypatch):
    monkeypatch.setattr(_Publisher, "MAX_QUEUED", 2)
    publisher, layer = _Publisher(), GatedLayer()
    send(publisher, layer, "first")
    send(publisher, layer, "second")
    third_sent = threading.Event()

    def third() -> None:
        send(publisher, layer, "third")
        third_sent.set()

    caller = threading.Thread(target=third)
    caller.start()
    assert not third_sent.wait(0.2)  # no room while the layer holds the first two
    layer.gate.set()
    assert third_sent.wait(10)
    caller.join(10)
    publisher.drain()

    assert layer.sent == ["first", "second", "third"]


def test_a_drain_says_when_the_sends_before_it_have_not_gone():
    _Publisher().drain()  # never sent: nothing to wait for
    publisher, layer = _Publisher(), GatedLayer()
    send(publisher, layer, "first")  # held: a drain queued behind it cannot finish

    with pytest.raises(TimeoutError):
        publisher.drain(timeout=0.1)

    layer.gate.set()
    publisher.drain()
    assert layer.sent == ["first"]


def test_closing_sends_what_is_queued_first_and_a_later_send_starts_afresh(monkeypatch):
    monkeypatch.setattr(_Publisher, "MAX_QUEUED", 3)
    publisher, layer = _Publisher(), GatedLayer()
    send(publisher, layer, "first")
    send(publisher, layer, "second")
    threading.Timer(0.05, layer.gate.set).start()  # the layer answers while close() waits

    publisher.close()

    assert layer.sent == ["first", "second"]
    for group in ("a", "b", "c", "d"):  # more than MAX_QUEUED: every place is free again
        send(publisher, layer, group)
        publisher.drain()
    assert layer.sent == ["first", "second", "a", "b", "c", "d"]


def test_closing_a_stuck_publisher_drops_what_is_queued_and_says_so(monkeypatch, caplog):
    publisher, layer = _Publisher(), GatedLayer()
    send(publisher, layer, "first")  # held until the gate opens, which it never does here

    with caplog.at_level(logging.WARNING, logger="ispdesk.realtime.events"):
        publisher.close(timeout=0.1)

    assert "dropped" in caplog.text
    layer.gate.set()
