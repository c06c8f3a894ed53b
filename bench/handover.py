"""The hand-over's CPU per message, measured alone: `python -m bench.handover [--customers N]`.

On a fresh PostgreSQL database with the storm's setup (`bench.setup.seed`: three areas, twelve
operators on a 24/7 schedule, the menu flow; here every operator's console is online), it
stores the messages of N customers as the webhook does (`receive_events`, one per delivery)
in three rounds — the greeting (new contact and chat, the bot's menu), a menu pick (the hand
to an area's queue, assignment while operators have room, queue positions for the rest) and
a description — and after each round hands them all to the desk in this process, in the
worker's batches (`hand_over_waiting`), publishing events to Redis as production does. Then
the sender's passes deliver every reply those rounds queued (the bot's menus, the hand-over
and queue messages) to the fake gateways (`bench.gateways`, a process of their own, so their
CPU is not counted): the "sending" round, per message sent.

Reported per round: CPU milliseconds per message (this process, the publisher's thread
included), queries per message, and the share of the cyclic garbage collector. Nothing else
runs, so the figure moves with the code, not with what else the machine's two cores are
doing (the storm's figures move ±30 % from run to run): compare commits with this one.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.datascale import REDIS_URL, server_url

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DATABASE = "ispdesk_handover"
ROUNDS = ("greeting", "menu pick", "description")
SENDING = "sending"
WARM_UP = 20  # customers handled before measuring


@dataclass
class Round:
    name: str
    messages: int = 0
    cpu_ms_per_message: float = 0.0
    wall_ms_per_message: float = 0.0
    queries_per_message: float = 0.0
    gc_share: float = 0.0  # of the CPU time
    batches: int = 0


@dataclass
class GcClock:
    """Time spent in the cyclic garbage collector (gc.callbacks)."""

    seconds: float = 0.0
    _started: float = field(default=0.0, repr=False)

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


def configure(redis_url: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="ispdesk.settings",
        DATABASE_URL=f"{server_url()}/{DATABASE}",
        REDIS_URL=redis_url,
        SECRET_KEY=secrets.token_urlsafe(50),
        ISPDESK_DATA_DIR=tempfile.mkdtemp(prefix="ispdesk-handover-"),
        INBOUND_HANDLING="background",
        LOG_LEVEL="WARNING",
    )
    for name in ("ISPDESK_TESTING", "ISPDESK_DEMO", "DEBUG"):
        os.environ.pop(name, None)


@contextmanager
def counting_queries(counter: list[int]) -> Iterator[None]:
    from django.db import connection

    def count(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        counter[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        yield


def put_online() -> None:
    """Every operator's console open (presence is a recent heartbeat)."""
    from django.utils import timezone

    from ispdesk.operators.models import ConsoleSession, Operator

    later = timezone.now() + timedelta(hours=1)
    ConsoleSession.objects.bulk_create(
        ConsoleSession(
            operator=operator,
            channel_name=f"bench.{operator.pk}",
            connected_at=later,
            last_seen_at=later,
        )
        for operator in Operator.objects.all()
    )


def store(customers: int, round_index: int, connection_ids: list[int], first: int = 0) -> int:
    """One delivery per customer message, as the webhook stores it."""
    from django.utils import timezone

    from ispdesk.integrations.whatsapp.base import InboundMessage
    from ispdesk.messaging.models import GatewayConnection
    from ispdesk.messaging.receiving import receive_events

    connections = {row.pk: row for row in GatewayConnection.objects.filter(pk__in=connection_ids)}
    texts = ("hola", None, "No tengo internet desde la mañana, la luz del módem está roja.")
    stored = 0
    for customer in range(first, first + customers):
        digits = f"54911{40000000 + customer:08d}"
        text = texts[round_index] or str(customer % 3 + 1)
        event = InboundMessage(
            provider_id=f"HO{round_index}-{customer}",
            chat_id=f"{digits}@s.whatsapp.net",
            phone=f"+{digits}",
            lid="",
            from_me=False,
            name=f"Cliente {customer}",
            text=text,
            timestamp=timezone.now(),
        )
        connection = connections[connection_ids[customer % len(connection_ids)]]
        stored += receive_events(connection, [event]).messages
    return stored


def hand_over_all() -> int:
    from ispdesk.messaging.pending import hand_over_waiting

    batches = 0
    while True:
        batches += 1
        if not hand_over_waiting().full:
            return batches


def send_all() -> tuple[int, int]:
    """The sender's passes, as its loop runs them, until nothing is due: (sent, passes).
    Anything but a clean send (a retry, a failure) stops the benchmark: the fake gateways
    accept every message."""
    from ispdesk.messaging.sender import STATUS_BUNDLE_SECONDS, new_worker_id, send_due_messages
    from ispdesk.realtime.events import bundled_events

    worker = new_worker_id()
    sent = passes = 0
    while True:
        passes += 1
        with bundled_events(flush_after=STATUS_BUNDLE_SECONDS):
            result = send_due_messages(worker)
        unexpected = {k: v for k, v in result.outcomes.items() if k != "sent" and v}
        if unexpected or result.errors:
            raise SystemExit(f"the sender did not just send: {dict(result.outcomes)}")
        sent += result.outcomes["sent"]
        if not result.listed:
            return sent, passes


def measure(name: str, clock: GcClock, messages: int = 0) -> Round:
    """One round's work (handing over, or sending when `messages` is 0: per message sent)."""
    from ispdesk.realtime.events import drain_publisher

    queries = [0]
    gc_before = clock.seconds
    cpu, wall = time.process_time(), time.perf_counter()
    with counting_queries(queries):
        if messages:
            batches = hand_over_all()
        else:
            messages, batches = send_all()
        drain_publisher()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return Round(
        name=name,
        messages=messages,
        cpu_ms_per_message=round(cpu * 1000 / messages, 3),
        wall_ms_per_message=round(wall * 1000 / messages, 3),
        queries_per_message=round(queries[0] / messages, 2),
        gc_share=round((clock.seconds - gc_before) / cpu, 3) if cpu else 0.0,
        batches=batches,
    )


@contextmanager
def fake_gateways() -> Iterator[dict[str, Any]]:
    """`bench.gateways` in a process of its own; yields its connection configs."""
    from bench.processes import Service, wait_file

    workdir = Path(tempfile.mkdtemp(prefix="ispdesk-handover-gateways-"))
    out = workdir / "gateways.json"
    argv = [sys.executable, "-m", "bench.gateways", "--out", str(out)]
    service = Service("gateways", argv, {**os.environ, "PYTHONPATH": str(ROOT)}, workdir)
    try:
        wait_file(out, service)
        yield json.loads(out.read_text())
    finally:
        service.stop()


def run(customers: int, gateways: dict[str, Any]) -> list[Round]:
    import django
    from django.core.management import call_command

    from bench.setup import flush_redis, recreate_pg_database, seed
    from ispdesk.lib.calendar import preload_holidays
    from ispdesk.lib.heap import settle

    recreate_pg_database(f"{server_url()}/{DATABASE}", DATABASE)
    flush_redis(os.environ["REDIS_URL"])
    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    state = seed(gateways)
    put_online()
    connection_ids = [state["connections"][name]["id"] for name in ("evolution", "cloud")]
    # As a worker starts: holidays worked out, and the modules a first batch imports loaded
    # by a few customers of its own.
    preload_holidays()
    for index in range(len(ROUNDS)):
        store(WARM_UP, index, connection_ids, first=customers)
        hand_over_all()
    send_all()
    settle()  # as a worker does once its loops' modules are loaded
    clock = GcClock()
    gc.callbacks.append(clock)
    rounds = []
    for index, name in enumerate(ROUNDS):
        stored = store(customers, index, connection_ids)
        rounds.append(measure(name, clock, stored))
    rounds.append(measure(SENDING, clock))
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=600)
    parser.add_argument("--redis", default=REDIS_URL)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    configure(args.redis)
    sys.path.insert(0, str(ROOT))
    with fake_gateways() as gateways:
        rounds = run(args.customers, gateways)
    handed = [r for r in rounds if r.name != SENDING]
    total = sum(r.cpu_ms_per_message * r.messages for r in handed)
    count = sum(r.messages for r in handed)
    print(f"{'round':<12} {'msgs':>5} {'CPU ms/msg':>10} {'wall ms':>8} {'queries':>8} {'GC':>5}")
    for r in rounds:
        print(
            f"{r.name:<12} {r.messages:>5} {r.cpu_ms_per_message:>10.3f} "
            f"{r.wall_ms_per_message:>8.3f} {r.queries_per_message:>8.2f} {r.gc_share:>5.1%}"
        )
    print(f"{'handed over':<12} {count:>5} {total / count:>10.3f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {"customers": args.customers, "rounds": [asdict(r) for r in rounds]}
    (RESULTS / "handover.json").write_text(json.dumps(report, indent=2))
    if not args.keep:
        from django.db import connections

        from bench.setup import drop_pg_database

        connections.close_all()
        drop_pg_database(f"{server_url()}/{DATABASE}", DATABASE)


if __name__ == "__main__":
    main()
