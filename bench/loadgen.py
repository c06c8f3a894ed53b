"""The open-loop load generator: every POST leaves at its due time, whatever the server does.

Latency is measured from each delivery's *intended* time, so a stalled server cannot hide its
stalls behind a slowed-down client (coordinated omission). The client's own lateness (due
time to the moment the request was handed to the client) is recorded too: when it grows, the
generator, not the server, was the bottleneck on this machine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.httpclient import Client, ProtocolError
from bench.timetable import Delivery

DEFAULT_TIMEOUT = 30.0
# Open loop needs room for many requests in flight; past this they queue for a connection
# inside the client (still measured from their due time).
MAX_CONNECTIONS = 256
LEAD_SECONDS = 0.5  # between building the client and the first due time


@dataclass(frozen=True)
class Outcome:
    due: float  # wall-clock time the delivery was due
    started: float  # wall-clock time it was handed to the client
    finished: float  # wall-clock time the answer (or the failure) came
    status: int  # HTTP status; 0 when no answer (timeout, connection error)
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def latency(self) -> float:
        return self.finished - self.due


class Clock:
    """Wall-clock readings that cannot jump: wall time at the start plus monotonic time."""

    def __init__(self) -> None:
        self.wall0 = time.time()
        self.mono0 = time.monotonic()

    def now(self) -> float:
        return self.wall0 + (time.monotonic() - self.mono0)

    def wall_of(self, monotonic: float) -> float:
        return self.wall0 + (monotonic - self.mono0)


async def _post(client: Client, path: str, delivery: Delivery, due: float, clock: Clock) -> Outcome:
    started = clock.now()
    try:
        status = await client.post(path, delivery.body, delivery.headers)
    except TimeoutError:
        return Outcome(due, started, clock.now(), 0, "timeout")
    except (OSError, ProtocolError) as exc:
        return Outcome(due, started, clock.now(), 0, type(exc).__name__)
    return Outcome(due, started, clock.now(), status)


async def run(
    base_url: str,
    paths: Mapping[str, str],
    deliveries: Sequence[Delivery],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
) -> tuple[float, list[Outcome]]:
    """POST every delivery to `base_url + paths[gateway]` at `start + delivery.at`; return
    the start (wall clock) and one outcome per delivery, in timetable order. (The lean
    `bench.httpclient`, not httpx: see there.)"""
    clock = Clock()
    client = Client(base_url, max_connections=max_connections, timeout=timeout)
    try:
        start = clock.now() + LEAD_SECONDS
        tasks: list[asyncio.Task[Outcome]] = []
        for delivery in deliveries:
            due = start + delivery.at
            # Sleep until due; when already late, still yield so that the requests created
            # so far start now rather than all at once when the loop next idles.
            await asyncio.sleep(max(0.0, due - clock.now()))
            path = paths[delivery.gateway]
            tasks.append(asyncio.create_task(_post(client, path, delivery, due, clock)))
        outcomes = list(await asyncio.gather(*tasks))
    finally:
        await client.aclose()
    return start, outcomes


def run_sync(
    base_url: str, paths: Mapping[str, str], deliveries: Sequence[Delivery], **options: float
) -> tuple[float, list[Outcome]]:
    return asyncio.run(run(base_url, paths, deliveries, **options))  # type: ignore[arg-type]
