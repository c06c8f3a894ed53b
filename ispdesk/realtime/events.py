"""Publishing real-time events to websocket groups, only after the transaction commits.

An event is small JSON with a `type` (`ticket:update`, `session:status`, ...) and ids; pages
refetch their own fragments when they receive one.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, cast

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

# The consumer methods that forward a layer message to its websocket: one event
# (`event.forward`), or several in order (`event.bundle`).
LAYER_MESSAGE_TYPE = "event.forward"
BUNDLE_TYPE = "event.bundle"
SEND_TIMEOUT_SECONDS = 5

# Each event's id, the same in every group it goes to, so a console in several forwards it
# once (`consumers`): a random prefix per process (drawn again in a forked child), a counter.
_id_prefix: int
_id_counter: Iterator[int]


def _new_ids() -> None:
    global _id_prefix, _id_counter
    _id_prefix = secrets.randbits(31) << 32
    _id_counter = itertools.count()


_new_ids()
os.register_at_fork(after_in_child=_new_ids)


def _event_id() -> int:
    return _id_prefix | (next(_id_counter) & 0xFFFF_FFFF)


# The event loop the websocket consumers of this process run in (see `_group_send_all`).
_consumer_loop: asyncio.AbstractEventLoop | None = None


def remember_consumer_loop() -> None:
    """Called by a consumer as it connects, from inside its event loop."""
    global _consumer_loop
    _consumer_loop = asyncio.get_running_loop()


def _current_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


# A queued send: the layer, its (group, message) pairs, and the place in the queue it holds;
# or a drain's future, set once every send before it has gone.
_Queued = tuple[Any, Any, "Future[None] | None", "threading.BoundedSemaphore | None"]


class _Publisher:
    """One event loop in a daemon thread that sends to channel layers bound to no consumer
    loop (Redis): its connections live as long as the process, instead of a new loop (and
    new Redis connections) for every `async_to_sync` call.

    Threads hand it their sends and go on without waiting for Redis (an assignment decision,
    a sender pass, a hand-over batch: about half a millisecond each): one task sends them in
    the order they were handed over, and logs any that fail or hang. With `MAX_QUEUED` sends
    waiting (Redis slow or gone), a thread waits for room instead of the queue growing."""

    MAX_QUEUED = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[_Queued] | None = None
        self._room = threading.BoundedSemaphore(self.MAX_QUEUED)

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=loop.run_forever, name="ispdesk-publisher", daemon=True
                )
                self._thread.start()
                self._queue = asyncio.run_coroutine_threadsafe(self._start(), loop).result()
                self._loop = loop
                atexit.register(self.close)
            return self._loop

    def close(self, timeout: float = SEND_TIMEOUT_SECONDS) -> None:
        """Send what is queued (waiting up to `timeout`), then stop the loop: at exit, so a
        process's last events are not lost with it. Sends still queued then are dropped,
        and logged."""
        try:
            self.drain(timeout)
        except TimeoutError:
            logger.warning("events still waiting for the channel layer after %ss: dropped", timeout)
        with self._lock:
            loop, self._loop = self._loop, None
            # The dropped sends' places in the queue are free again for a loop made later.
            self._room = threading.BoundedSemaphore(self.MAX_QUEUED)
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(Exception):  # stopping anyway
            asyncio.run_coroutine_threadsafe(self._stop_consuming(), loop).result(1.0)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(1.0)
        if not self._thread.is_alive():
            loop.close()

    async def _start(self) -> asyncio.Queue[_Queued]:
        queue: asyncio.Queue[_Queued] = asyncio.Queue()
        self._consumer = asyncio.get_running_loop().create_task(self._consume(queue))
        return queue

    async def _stop_consuming(self) -> None:
        self._consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._consumer

    async def _consume(self, queue: asyncio.Queue[_Queued]) -> None:
        while True:
            layer, sends, drained, room = await queue.get()
            if drained is not None:
                drained.set_result(None)
                continue
            try:
                await asyncio.wait_for(_send_all(layer, sends), SEND_TIMEOUT_SECONDS)
            except Exception:  # TimeoutError included: the next sends must not wait behind it
                logger.exception("could not publish to %s groups", len(sends))
            finally:
                if room is not None:
                    room.release()

    def submit(self, layer: BaseChannelLayer, sends: list[tuple[str, dict[str, Any]]]) -> None:
        """Queue the sends, after every send queued before them; return at once."""
        room = self._room
        if not room.acquire(timeout=SEND_TIMEOUT_SECONDS):
            raise TimeoutError(f"{self.MAX_QUEUED} sends still waiting for the channel layer")
        loop = self.loop()
        loop.call_soon_threadsafe(self._put, (layer, sends, None, room))

    def drain(self, timeout: float = SEND_TIMEOUT_SECONDS) -> None:
        """Wait until every send queued before this call has gone (or failed)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        drained: Future[None] = Future()
        loop.call_soon_threadsafe(self._put, (None, None, drained, None))
        drained.result(timeout)

    def _put(self, item: _Queued) -> None:
        cast("asyncio.Queue[_Queued]", self._queue).put_nowait(item)


_publisher = _Publisher()


def close_publisher_pools(layer: BaseChannelLayer) -> None:
    """Close the connections the publisher's loop holds for `layer`, in that loop.

    channels_redis keeps one pool per event loop and its `close_pools` closes them all from
    the caller's loop, which fails for another loop's connections: call this first when a
    layer is dropped (tests replace layers; shutdown)."""
    drain_publisher()
    loop = _publisher._loop
    pools = getattr(layer, "_layers", None)
    if loop is None or loop.is_closed() or not isinstance(pools, dict) or loop not in pools:
        return
    loop_layer = pools.pop(loop)
    asyncio.run_coroutine_threadsafe(loop_layer.flush(), loop).result(SEND_TIMEOUT_SECONDS)


async def _send_all(layer: BaseChannelLayer, sends: list[tuple[str, dict[str, Any]]]) -> None:
    send_many = getattr(layer, "group_send_many", None)
    if send_many is not None:
        # `realtime.layers`: a few round trips for them all, and in order with the next call.
        try:
            await send_many(sends)
        except Exception:
            logger.exception("could not publish to %s groups", len(sends))
        return
    for group, message in sends:
        try:
            await layer.group_send(group, message)
        except Exception:
            # Real-time delivery is best effort; pages resync from the database on reconnect.
            logger.exception("could not publish to %s", group)


def _group_send_all(layer: BaseChannelLayer, sends: list[tuple[str, dict[str, Any]]]) -> None:
    """Send each (group, layer message) in order, in one hop to the loop that owns the layer."""
    loop = _consumer_loop
    if isinstance(layer, InMemoryChannelLayer):
        if loop is not None and loop.is_running() and _current_loop() is not loop:
            # The in-memory layer's queues belong to the consumers' event loop and are not
            # thread-safe: a background thread (scheduler, sender) must hand the send to it.
            future = asyncio.run_coroutine_threadsafe(_send_all(layer, sends), loop)
            future.result(timeout=SEND_TIMEOUT_SECONDS)
            return
        async_to_sync(_send_all)(layer, sends)
        return
    if _current_loop() is not None:
        async_to_sync(_send_all)(layer, sends)  # called from async code: its own thread
        return
    _publisher.submit(layer, sends)


def drain_publisher(timeout: float = SEND_TIMEOUT_SECONDS) -> None:
    """Wait until the events this process handed to the channel layer have gone: before a
    process stops, so its last events are not lost with it."""
    try:
        _publisher.drain(timeout)
    except TimeoutError:
        logger.warning("events still waiting for the channel layer after %ss", timeout)


def _forward(event: dict[str, Any], event_id: int) -> dict[str, Any]:
    return {"type": LAYER_MESSAGE_TYPE, "event": event, "id": event_id}


def publish_now(groups: Iterable[str], event: dict[str, Any]) -> None:
    """Send an event to groups immediately (or into the open `bundled_events` block).
    Prefer `send_event_on_commit`."""
    if "type" not in event:
        raise ValueError("an event needs a 'type'")
    bundle = getattr(_bundles, "events", None)
    if bundle is not None:
        bundle.append((list(dict.fromkeys(groups)), event, _event_id()))
        flush_after = getattr(_bundles, "flush_after", None)
        if flush_after is not None and _clock() - _bundles.opened >= flush_after:
            _bundles.events = []
            _bundles.opened = _clock()
            _send_bundles(bundle)
        return
    layer = get_channel_layer()
    if layer is None:
        return
    message = _forward(event, _event_id())
    try:
        _group_send_all(layer, [(group, message) for group in dict.fromkeys(groups)])
    except Exception:
        logger.exception("could not publish %s", event.get("type"))


_bundles = threading.local()
_clock = time.monotonic
# An event collected by `bundled_events`: its groups, the event and its id.
_Collected = tuple[list[str], dict[str, Any], int]


@contextmanager
def bundled_events(*, flush_after: float | None = None) -> Iterator[None]:
    """Collect the events published inside the block and send them when it ends: one layer
    message per group carrying that group's events in order (`event.bundle`), instead of
    one per event and group. For batches that publish many events (the inbound hand-over).
    Events are sent even when the block raises (those whose transaction committed).

    With `flush_after` (seconds), what was collected also goes out as soon as an event is
    published that long after the bundle opened: for a long block (the sender's pass, one
    HTTP call per message) whose events should not wait for its end."""
    if getattr(_bundles, "events", None) is not None:
        yield  # an outer block sends them
        return
    _bundles.events = []
    _bundles.opened = _clock()
    _bundles.flush_after = flush_after
    try:
        yield
    finally:
        collected: list[_Collected] = _bundles.events
        _bundles.events = None
        _bundles.flush_after = None
        _send_bundles(collected)


def _send_bundles(collected: list[_Collected]) -> None:
    if not collected:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    by_group: dict[str, tuple[list[dict[str, Any]], list[int]]] = {}
    for groups, event, event_id in collected:
        for group in groups:
            events, ids = by_group.setdefault(group, ([], []))
            events.append(event)
            ids.append(event_id)
    sends = [
        (
            group,
            _forward(events[0], ids[0])
            if len(events) == 1
            else {"type": BUNDLE_TYPE, "events": events, "ids": ids},
        )
        for group, (events, ids) in by_group.items()
    ]
    try:
        _group_send_all(layer, sends)
    except Exception:
        logger.exception("could not publish a bundle of %s events", len(collected))


class Later:
    """An event value known only when the transaction commits: the id of a row written at
    the end of a `lib.bulk.deferred_inserts` block."""

    def __init__(self, compute: Callable[[], Any]) -> None:
        self.compute = compute


def later_pk(instance: Any) -> Any:
    """The instance's primary key, or a `Later` one when it is not inserted yet."""
    return instance.pk if instance.pk is not None else Later(lambda: instance.pk)


def _resolved(event: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.compute() if isinstance(value, Later) else value for key, value in event.items()
    }


def send_event_on_commit(groups: Iterable[str], event: dict[str, Any]) -> None:
    """Publish once the current transaction commits (at once when none is open)."""
    frozen_groups = list(groups)
    frozen_event = dict(event)
    if "type" not in frozen_event:
        raise ValueError("an event needs a 'type'")
    transaction.on_commit(lambda: publish_now(frozen_groups, _resolved(frozen_event)), robust=True)
