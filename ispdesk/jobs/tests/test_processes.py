"""The process shapes, run as real subprocesses against a migrated SQLite file.

`ispdesk worker` runs the periodic jobs; `ispdesk serve` and `ispdesk web` answer HTTP. Each
stops cleanly and promptly on SIGTERM or Ctrl-C: status 0 and no traceback.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ispdesk.testing.processes import children_of, command_line, ended
from ispdesk.testing.sockets import free_port, wait_until

START_TIMEOUT = 30
STOP_TIMEOUT = 10


@dataclass(frozen=True)
class Setup:
    env: dict[str, str]
    database: Path


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Setup:  # type: ignore[no-untyped-def]
    """An environment like production's (no test mode) with a freshly migrated database."""
    directory = tmp_path_factory.mktemp("process")
    database = directory / "ispdesk.sqlite3"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "ISPDESK_DEMO", "PYTEST_VERSION"}
    }
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        ISPDESK_DATA_DIR=str(directory),
        ISPDESK_TESTING="0",
        SECRET_KEY="process-test-secret-key-0123456789abcdefghijklmnop",
        JOBS_POLL_SECONDS="1",
        LOG_LEVEL="INFO",
        # A process that does not stop in time is sent SIGABRT (`Process.wait`): it prints
        # every thread's stack first, so the failure shows where it was stuck.
        PYTHONFAULTHANDLER="1",
    )
    subprocess.run(
        [sys.executable, "-m", "ispdesk", "migrate", "--no-input", "-v", "0"],
        env=env,
        check=True,
        timeout=120,
    )
    return Setup(env, database)


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        """Its exit status; if it does not end within `timeout`, it and its children are
        made to print their threads' stacks (SIGABRT) and the test fails with them."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.popen.wait(timeout=timeout)
        children = children_of(self.popen.pid)
        for pid in [*children, self.popen.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGABRT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=STOP_TIMEOUT)
        with contextlib.suppress(TimeoutError):  # their stacks are in the log once they end
            wait_until(
                lambda: all(map(ended, children)), timeout=STOP_TIMEOUT, message="the children"
            )
        pytest.fail(f"still running after {timeout}s:\n{self.output()}")

    def stop(self, sig: int) -> tuple[int, float]:
        """Send `sig`; return the exit status and how long the process took to end."""
        sent = time.monotonic()
        self.popen.send_signal(sig)
        status = self.wait()
        return status, time.monotonic() - sent


@pytest.fixture
def start(migrated, tmp_path) -> Iterator:  # type: ignore[no-untyped-def]
    started: list[Process] = []

    def start_process(*args: str, **env: str) -> Process:
        log = tmp_path / f"{args[0]}.log"
        with log.open("wb") as output:
            popen = subprocess.Popen(
                [sys.executable, "-m", "ispdesk", *args],
                env={**migrated.env, **env},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        process = Process(popen, log)
        started.append(process)
        return process

    yield start_process
    for process in started:
        if process.alive():
            process.popen.kill()
            process.popen.wait()


def housekeeping_runs(database: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(database) as connection:
        try:
            return connection.execute(
                "SELECT run.outcome, run.worker FROM jobs_jobrun run"
                " JOIN jobs_jobschedule schedule ON schedule.id = run.schedule_id"
                " WHERE schedule.name = 'housekeeping' AND run.finished_at IS NOT NULL"
            ).fetchall()
        except sqlite3.OperationalError:  # the database is busy; ask again
            return []


def test_the_worker_runs_housekeeping_and_stops_promptly_on_sigterm(migrated, start):
    worker = start("worker")

    wait_until(
        lambda: bool(housekeeping_runs(migrated.database)),
        timeout=START_TIMEOUT,
        message="the worker running housekeeping",
        still_starting=worker.alive,
    )
    # On SQLite the worker keeps its priority (its batches hold the one write lock).
    niceness = os.getpriority(os.PRIO_PROCESS, worker.popen.pid)
    status, seconds = worker.stop(signal.SIGTERM)

    assert niceness == os.getpriority(os.PRIO_PROCESS, 0)
    assert status == 0, worker.output()
    assert seconds < 5
    assert [outcome for outcome, _worker in housekeeping_runs(migrated.database)] == ["ok"]
    assert "Traceback" not in worker.output()
    assert "stopped" in worker.output()


SENDER_STARTED = re.compile(r"ispdesk\.messaging\.sender: sender \S+ started")


def sender_child(worker: Process) -> int:
    """Wait for the worker's sender process to start; its pid."""
    wait_until(
        lambda: (
            len(children_of(worker.popen.pid)) == 1
            # Its loop's first line: its signal handlers are in place by then.
            and SENDER_STARTED.search(worker.output()) is not None
        ),
        timeout=START_TIMEOUT,
        message="the worker's sender process",
        still_starting=worker.alive,
    )
    return children_of(worker.popen.pid)[0]


def test_the_worker_runs_its_sender_in_a_child_process_that_stops_with_it(start):
    worker = start("worker", WORKER_SENDER_PROCESS="yes")
    child = sender_child(worker)
    cmd = command_line(child)
    status, seconds = worker.stop(signal.SIGTERM)

    assert cmd[-3:] == ["worker", "--loops", "sender"]
    assert status == 0, worker.output()
    assert seconds < 5
    assert ended(child)
    output = worker.output()
    assert "Traceback" not in output
    assert "ispdesk worker started (hand-over, jobs)" in output
    assert "ispdesk worker started (sender)" in output
    # Both processes stopped in order: the sender's own loop, and each process.
    assert "sender" in output and output.count("ispdesk worker stopped") == 2
    assert "ended with status" not in output


def test_a_worker_killed_outright_takes_its_sender_process_with_it(start):
    worker = start("worker", WORKER_SENDER_PROCESS="yes")
    child = sender_child(worker)
    worker.popen.send_signal(signal.SIGKILL)
    worker.wait()

    wait_until(lambda: ended(child), timeout=STOP_TIMEOUT, message="the orphaned sender ending")
    output = worker.output()
    # Told by the kernel (a SIGTERM: it stops as usual, finishing any send in hand), not
    # noticed later by looking for its parent.
    assert "received signal 15, stopping" in output
    assert "ended unexpectedly" not in output
    assert output.count("ispdesk worker stopped") == 1  # the sender's; the parent was killed


def test_a_supervisor_signalling_both_processes_stops_them_cleanly(start):
    # systemd's default (KillMode=control-group) sends SIGTERM to every process of the
    # service; the worker then asks its child to stop too. That second SIGTERM must not cut
    # the child's stop short.
    worker = start("worker", WORKER_SENDER_PROCESS="yes")
    child = sender_child(worker)
    worker.popen.send_signal(signal.SIGTERM)
    os.kill(child, signal.SIGTERM)
    status = worker.wait()

    output = worker.output()
    assert status == 0, output
    assert ended(child)
    assert output.count("ispdesk worker stopped") == 2
    assert "ended with status" not in output
    assert "Traceback" not in output


def test_a_child_signalled_again_and_again_while_it_stops_still_ends_cleanly(start):
    # Its parent asks it to stop after the supervisor's own SIGTERM reached it: the second
    # one may come as the child exits, when Python has put back the default action (being
    # killed, status -15) in place of its handler. Signalled as fast as this loop can from
    # the moment it says it stopped, its exit is surely hit.
    child = start("worker", "--loops", "sender", ISPDESK_PARENT_PID=str(os.getpid()))
    wait_until(
        lambda: SENDER_STARTED.search(child.output()) is not None,
        timeout=START_TIMEOUT,
        message="the sender loop",
        still_starting=child.alive,
    )
    child.popen.send_signal(signal.SIGTERM)
    wait_until(
        lambda: "ispdesk worker stopped" in child.output() or not child.alive(),
        timeout=STOP_TIMEOUT,
        message="the child's stop",
    )
    deadline = time.monotonic() + STOP_TIMEOUT
    while child.popen.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.popen.pid, signal.SIGTERM)

    assert child.wait() == 0, child.output()
    assert "ispdesk worker stopped" in child.output()


def test_a_worker_whose_sender_process_dies_stops_with_an_error(start):
    worker = start("worker", WORKER_SENDER_PROCESS="yes")
    child = sender_child(worker)
    os.kill(child, signal.SIGKILL)
    status = worker.wait()

    assert status == 1
    assert f"child process {child} ended unexpectedly" in worker.output()
    assert "ispdesk worker stopped" in worker.output()


def test_the_worker_refuses_unknown_loop_names(start):
    worker = start("worker", "--loops", "hand-over,mailer")
    status = worker.wait(START_TIMEOUT)

    assert status == 1
    assert "--loops takes a comma-separated list of hand-over, sender, jobs" in worker.output()
    assert "'hand-over,mailer'" in worker.output()


def test_a_worker_of_only_the_sender_runs_no_child(start):
    worker = start("worker", "--loops", "sender", WORKER_SENDER_PROCESS="yes")
    wait_until(
        lambda: SENDER_STARTED.search(worker.output()) is not None,
        timeout=START_TIMEOUT,
        message="the sender loop",
        still_starting=worker.alive,
    )
    children = children_of(worker.popen.pid)
    status, _seconds = worker.stop(signal.SIGTERM)

    assert children == []
    assert status == 0, worker.output()
    assert "ispdesk worker started (sender)" in worker.output()
    assert "hand-over loop started" not in worker.output()


def answers_health(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.parametrize(
    ("command", "sig"),
    [("serve", signal.SIGINT), ("serve", signal.SIGTERM), ("web", signal.SIGTERM)],
)
def test_the_server_answers_health_checks_and_stops_cleanly(start, command, sig):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start(command, "--port", str(port))

    wait_until(
        lambda: answers_health(url),
        timeout=START_TIMEOUT,
        message=f"ispdesk {command} answering /healthz",
        still_starting=server.alive,
    )
    ready = httpx.get(f"{url}/readyz", timeout=5)
    status, seconds = server.stop(sig)

    assert ready.json() == {"status": "ready"}
    assert status == 0, server.output()
    assert seconds < 5
    assert "Traceback" not in server.output()


def test_the_worker_yields_the_cpu_except_on_sqlite(settings):
    from ispdesk.system.management.commands.worker import niceness

    settings.WORKER_NICE = 10
    assert [niceness(vendor) for vendor in ("postgresql", "mysql", "sqlite")] == [10, 10, 0]
    settings.WORKER_NICE = 0
    assert niceness("postgresql") == 0


def test_a_sender_process_yields_the_cpu_to_the_hand_over(settings):
    from ispdesk.system.management.commands.worker import niceness

    settings.WORKER_NICE, settings.SENDER_NICE = 10, 15
    assert niceness("postgresql", ["sender"]) == 15
    assert niceness("postgresql", ["hand-over", "jobs"]) == 10
    assert niceness("postgresql", ["hand-over", "sender", "jobs"]) == 10
    assert niceness("sqlite", ["sender"]) == 0
    # Never above the rest of the worker, whatever SENDER_NICE says.
    settings.SENDER_NICE = 5
    assert niceness("mysql", ["sender"]) == 10


@pytest.mark.parametrize(
    ("choice", "vendor", "loops", "apart"),
    [
        ("auto", "postgresql", ["hand-over", "sender", "jobs"], True),
        # Without NOTIFY a sender apart would find queued replies only by polling.
        ("auto", "mysql", ["hand-over", "sender", "jobs"], False),
        ("yes", "mysql", ["hand-over", "sender", "jobs"], True),
        ("auto", "sqlite", ["hand-over", "sender", "jobs"], False),
        ("yes", "sqlite", ["hand-over", "sender", "jobs"], True),
        ("no", "postgresql", ["hand-over", "sender", "jobs"], False),
        ("yes", "postgresql", ["sender"], False),
        ("yes", "postgresql", ["hand-over", "jobs"], False),
        ("auto", "postgresql", ["sender", "jobs"], True),
    ],
)
def test_the_sender_runs_apart_where_configured(settings, choice, vendor, loops, apart):
    from ispdesk.system.management.commands.worker import sender_apart

    settings.WORKER_SENDER_PROCESS = choice
    assert sender_apart(vendor, loops) is apart


def test_servers_keep_idle_connections_open_longer_than_their_clients_do():
    from ispdesk.system.management.commands._server import uvicorn_options

    # A client reusing a connection the server is closing at that moment gets no answer:
    # the server must outlast httpx's idle limit (5 s) and nginx's upstream default (60 s).
    keep_alive = uvicorn_options("127.0.0.1", 8000)["timeout_keep_alive"]
    assert keep_alive > max(httpx.Limits().keepalive_expiry or 0, 60)
