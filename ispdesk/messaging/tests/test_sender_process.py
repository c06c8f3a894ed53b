"""Killing a sender mid-send loses nothing: `ispdesk worker` as real processes.

The test prepares a throwaway database on the database server the suite runs on (a file on
SQLite), queues 50 messages for an Evolution connection pointing at the local fake Evolution
API, and starts a worker. The fake accepts every send, but holds its answer to one of them:
while the worker waits for that answer, the test kills it with SIGKILL. A second worker
then takes over once the dead worker's claim expires.

Afterwards every message reached the gateway; the one that was in flight when the worker
died (accepted, not yet recorded) reached it twice, and no other did; every row is `sent`.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection as suite_connection

from ispdesk.testing.fakes.evolution import FakeEvolution
from ispdesk.testing.fakes.server import serving
from ispdesk.testing.processes import children_of
from ispdesk.testing.sockets import wait_until

MESSAGES = 50
HOLD_AT = 20  # the send whose answer is held while the worker is killed
CLAIM_LEASE_SECONDS = 3
START_TIMEOUT = 60
SEND_TIMEOUT = 90
STOP_TIMEOUT = 15


class HoldingEvolution(FakeEvolution):
    """Evolution that accepts every send but holds its answer to the `hold_at`-th one."""

    def __init__(self, hold_at: int) -> None:
        super().__init__()
        self.hold_at = hold_at
        self.holding = threading.Event()
        self.let_go = threading.Event()

    def accept(self, body: dict[str, Any], message_id: str) -> None:
        super().accept(body, message_id)
        with self._changed:
            hold = len(self.accepted) == self.hold_at
        if hold:
            self.holding.set()
            self.let_go.wait(START_TIMEOUT)

    def texts(self) -> list[str]:
        with self._changed:
            return [str(body.get("text")) for body in self.accepted]


@dataclass
class Database:
    """A throwaway database on the suite's database server, reached without Django."""

    vendor: str
    url: str
    settings: dict[str, Any]

    def connect(self) -> Any:
        options = self.settings
        if self.vendor == "sqlite":
            return sqlite3.connect(options["NAME"], timeout=30)
        if self.vendor == "postgresql":
            import psycopg

            return psycopg.connect(
                host=options["HOST"] or "127.0.0.1",
                port=int(options["PORT"] or 5432),
                user=options["USER"],
                password=options["PASSWORD"] or None,
                dbname=options["NAME"],
                autocommit=True,
            )
        import MySQLdb

        return MySQLdb.connect(
            host=options["HOST"] or "127.0.0.1",
            port=int(options["PORT"] or 3306),
            user=options["USER"],
            password=options["PASSWORD"] or "",
            database=options["NAME"],
            autocommit=True,
        )

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run one query on a fresh connection (so it sees every commit)."""
        connection = self.connect()
        try:
            cursor = connection.cursor()
            cursor.execute(sql)
            return list(cursor.fetchall())
        finally:
            connection.close()


def _server_admin(vendor: str, options: dict[str, Any], statement: str) -> None:
    """Run CREATE/DROP DATABASE on the suite's server, connected to its maintenance db."""
    server = {**options, "NAME": "postgres" if vendor == "postgresql" else ""}
    connection = Database(vendor, "", server).connect()
    try:
        connection.cursor().execute(statement)
    finally:
        connection.close()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    current = settings.DATABASES["default"]
    if suite_connection.vendor == "sqlite":
        path = tmp_path / "crash.sqlite3"
        yield Database("sqlite", f"sqlite:///{path}", {"NAME": str(path)})
        return
    name = f"ispdesk_crash_{uuid.uuid4().hex[:10]}"
    options = {key: str(current.get(key) or "") for key in ("HOST", "PORT", "USER", "PASSWORD")}
    credentials = quote(options["USER"]) + (
        f":{quote(options['PASSWORD'])}" if options["PASSWORD"] else ""
    )
    location = f"{credentials}@{options['HOST'] or '127.0.0.1'}"
    if suite_connection.vendor == "postgresql":
        vendor = "postgresql"
        url = f"postgres://{location}:{options['PORT'] or 5432}/{name}"
        _server_admin(vendor, options, f'CREATE DATABASE "{name}"')
    else:
        vendor = "mysql"
        url = f"mysql://{location}:{options['PORT'] or 3306}/{name}"
        _server_admin(vendor, options, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield Database(vendor, url, {**options, "NAME": name})
    finally:
        if vendor == "postgresql":
            _server_admin(vendor, options, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            _server_admin(vendor, options, f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def environment(database: Database, tmp_path: Path) -> dict[str, str]:
    """Production-like settings (no test mode) on the throwaway database, migrated."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "ISPDESK_DEMO", "PYTEST_VERSION"}
    }
    env.update(
        DATABASE_URL=database.url,
        ISPDESK_DATA_DIR=str(tmp_path),
        ISPDESK_TESTING="0",
        SECRET_KEY="crash-test-secret-key-0123456789abcdefghijklmnopq",
        JOBS_POLL_SECONDS="1",
        SENDER_POLL_SECONDS="1",
        LOG_LEVEL="INFO",
    )
    ispdesk(env, "migrate", "--no-input", "-v", "0")
    return env


def ispdesk(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "ispdesk", *args], env=env, check=True, timeout=START_TIMEOUT * 3
    )


SEED = """
from ispdesk.messaging.models import GatewayConnection
from ispdesk.messaging.outbox import queue_message
from ispdesk.system.models import SystemConfig

SystemConfig.objects.create(key="outbox_claim_lease_seconds", value={lease})
connection = GatewayConnection.objects.create(
    kind="evolution", name="Evolution", config={config}, rate_per_second=20
)
for index in range({count}):
    queue_message(f"+54911234567{{index:02d}}", f"mensaje {{index:02d}}", connection=connection)
"""


@dataclass
class Worker:
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None


@pytest.fixture
def start_worker(environment: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    started: list[Worker] = []

    def start() -> Worker:
        log = tmp_path / f"worker-{len(started)}.log"
        with log.open("wb") as output:
            popen = subprocess.Popen(
                [sys.executable, "-m", "ispdesk", "worker"],
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(popen, log)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.alive():
            worker.popen.kill()
            worker.popen.wait()


def test_a_worker_killed_mid_send_loses_nothing_and_duplicates_only_the_in_flight_message(
    database, environment, start_worker
):
    with serving(HoldingEvolution(hold_at=HOLD_AT)) as gateway:
        seed = SEED.format(lease=CLAIM_LEASE_SECONDS, config=gateway.config(), count=MESSAGES)
        ispdesk(environment, "shell", "-c", seed)
        expected = [f"mensaje {index:02d}" for index in range(MESSAGES)]

        doomed = start_worker()
        wait_until(
            gateway.holding.is_set,
            timeout=START_TIMEOUT,
            message=f"the worker sending message {HOLD_AT}",
            still_starting=doomed.alive,
        )
        # The worker and the sender process it may have started (on PostgreSQL) die at once,
        # as in a power cut: the send in flight is never recorded.
        for pid in [doomed.popen.pid, *children_of(doomed.popen.pid)]:
            os.kill(pid, signal.SIGKILL)
        doomed.popen.wait(timeout=STOP_TIMEOUT)
        gateway.let_go.set()
        in_flight = gateway.texts()[HOLD_AT - 1]
        assert len(gateway.texts()) == HOLD_AT < MESSAGES

        survivor = start_worker()
        wait_until(
            lambda: set(gateway.texts()) == set(expected) and _all_sent(database),
            timeout=SEND_TIMEOUT,
            message="every message sent and recorded after the restart",
            still_starting=survivor.alive,
        )
        stopped_at = time.monotonic()
        survivor.popen.send_signal(signal.SIGTERM)
        status = survivor.popen.wait(timeout=STOP_TIMEOUT)
        texts = gateway.texts()

    duplicates = {text: count for text, count in Counter(texts).items() if count > 1}
    assert sorted(set(texts)) == expected
    assert duplicates == {in_flight: 2}
    rows = database.rows(
        "SELECT body, status, attempts, claimed_by, provider_id FROM messaging_outboundmessage"
    )
    assert len(rows) == MESSAGES
    assert {status for _body, status, _a, _c, _p in rows} == {"sent"}
    assert {claimed_by for _body, _s, _a, claimed_by, _p in rows} == {""}
    assert all(provider_id for *_rest, provider_id in rows)
    attempts = {body: attempts for body, _s, attempts, _c, _p in rows}
    assert attempts.pop(in_flight) == 2
    assert set(attempts.values()) == {1}
    assert status == 0, survivor.output()
    assert time.monotonic() - stopped_at < STOP_TIMEOUT
    assert "Traceback" not in survivor.output()
    assert "sender" in survivor.output() and "stopped" in survivor.output()


def _all_sent(database: Database) -> bool:
    try:
        rows = database.rows(
            "SELECT status, COUNT(*) FROM messaging_outboundmessage GROUP BY status"
        )
    except Exception:  # the database is busy (SQLite): ask again
        return False
    return dict(rows) == {"sent": MESSAGES}
