"""Starting and stopping the processes of a run, waiting for them, and sampling their cost.

Every process is started in a session of its own with its output in a log file; it is
stopped by its own process group id (SIGTERM, then SIGKILL after a bounded wait). Waiting is
bounded polling, never a sleep standing in for readiness.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import psutil

from ispdesk.testing.sockets import wait_until

STOP_TIMEOUT = 30.0
SAMPLE_SECONDS = 0.5


class Service:
    """One started process (and whatever children it forks: uvicorn's workers)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        log_dir: Path,
        *,
        stdin: bool = False,
        stdout_pipe: bool = False,
        outside: bool = False,
    ) -> None:
        """`outside`: the process plays the outside world (consoles) and keeps the harness's
        priority; servers start at the normal one."""
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        # A fixed argv of our own making (the venv's Python and our modules): no shell.
        self.process = subprocess.Popen(  # noqa: S603
            list(argv),
            env=dict(env),
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout_pipe else self._log,
            stderr=self._log,
            start_new_session=True,
            text=stdout_pipe or stdin,
            preexec_fn=None if outside else _normal_priority,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, size: int = 3000) -> str:
        self._log.flush()
        data = self.log_path.read_bytes()
        return data[-size:].decode(errors="replace")

    def send_line(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def read_line(self, timeout: float) -> str:
        """The next line of stdout, or TimeoutError (read in a thread: pipes have no timeout)."""
        assert self.process.stdout is not None
        result: list[str] = []
        reader = threading.Thread(
            target=lambda: result.append(self.process.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(timeout)
        if not result:
            raise TimeoutError(f"{self.name}: no answer within {timeout}s\n{self.log_tail()}")
        return result[0].strip()

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        self._log.close()
        return self.process.returncode


def _normal_priority() -> None:
    os.setpriority(os.PRIO_PROCESS, 0, 0)


_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit)): (.*)$")


def log_errors(paths: Sequence[Path], limit: int = 5) -> list[tuple[int, str]]:
    """The most frequent exceptions in server logs, as (count, "Type: message") with
    numbers and addresses kept (they tell which server refused)."""
    counts: dict[str, int] = {}
    for path in paths:
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            match = _EXCEPTION_LINE.match(line)
            if match:
                key = f"{match[1]}: {match[2][:160]}"
                counts[key] = counts.get(key, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: -item[1])[:limit]
    return [(count, text) for text, count in ranked]


def run_command(
    name: str, argv: Sequence[str], env: Mapping[str, str], log_dir: Path, timeout: float
) -> None:
    """Run a command to completion; RuntimeError with its log's end when it fails."""
    service = Service(name, argv, env, log_dir)
    try:
        code = service.process.wait(timeout)
    except subprocess.TimeoutExpired:
        service.stop()
        raise RuntimeError(
            f"{name} did not finish within {timeout}s:\n{service.log_tail()}"
        ) from None
    if code != 0:
        tail = service.log_tail()
        service.stop()
        raise RuntimeError(f"{name} failed (exit {code}):\n{tail}")
    service.stop()


def _wait_for(service: Service, condition: Callable[[], bool], timeout: float, what: str) -> None:
    """`wait_until` while the service runs; a failure carries the end of its log."""
    try:
        wait_until(
            condition,
            timeout=timeout,
            message=f"{service.name} {what}",
            still_starting=service.alive,
        )
    except (RuntimeError, TimeoutError) as exc:
        raise RuntimeError(f"{exc}\n{service.log_tail()}") from None


def wait_http(url: str, service: Service, timeout: float = 60.0) -> None:
    def answers() -> bool:
        try:
            return httpx.get(url, timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    _wait_for(service, answers, timeout, f"at {url}")


def wait_log(service: Service, text: str, timeout: float = 60.0) -> None:
    _wait_for(service, lambda: text in service.log_tail(100_000), timeout, f"printing {text!r}")


def wait_file(path: Path, service: Service, timeout: float = 30.0) -> None:
    wait_until(
        lambda: path.exists() and path.stat().st_size > 0,
        timeout=timeout,
        message=f"{service.name} writing {path.name}",
        still_starting=service.alive,
    )


# Sampling ---------------------------------------------------------------------------------


@dataclass
class ProcessStats:
    label: str
    cpu: float = 0.0  # user + system seconds, latest reading
    peak_rss: int = 0
    rss: list[tuple[float, int]] = field(default_factory=list)  # (wall time, bytes)


class Sampler:
    """Samples CPU time and RSS of every process of the watched services, in a thread."""

    def __init__(self, services: Mapping[str, Service], interval: float = SAMPLE_SECONDS) -> None:
        # Services may be added (and removed) while sampling: the floor runs only when measured.
        self.services = dict(services)
        self.interval = interval
        self.stats: dict[int, ProcessStats] = {}
        self.current: set[int] = set()  # pids alive at the latest sample
        self._handles: dict[int, psutil.Process] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def start(self) -> None:
        self.sample()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def watch(self, name: str, service: Service) -> None:
        with self._lock:
            self.services[name] = service

    def forget(self, name: str) -> None:
        with self._lock:
            self.services.pop(name, None)

    def _processes(self) -> list[tuple[str, psutil.Process]]:
        found = []
        with self._lock:
            services = list(self.services.items())
        for name, service in services:
            if not service.alive():
                continue
            try:
                root = self._handle(service.pid)
                found.append((name, root))
                children = root.children(recursive=True)
            except psutil.Error:
                continue
            number = 0
            for child in sorted(children, key=lambda c: c.pid):
                try:
                    helper = "resource_tracker" in " ".join(child.cmdline())
                except psutil.Error:
                    continue
                if helper:  # multiprocessing's bookkeeping process, not a worker
                    found.append((f"{name} helper", self._handle(child.pid)))
                    continue
                number += 1
                found.append((f"{name} worker {number}", self._handle(child.pid)))
        return found

    def _handle(self, pid: int) -> psutil.Process:
        if pid not in self._handles:
            self._handles[pid] = psutil.Process(pid)
        return self._handles[pid]

    def sample(self) -> None:
        now = time.time()
        found = self._processes()
        with self._lock:
            self.current = {process.pid for _label, process in found}
        for label, process in found:
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    rss = process.memory_info().rss
            except psutil.Error:
                continue
            with self._lock:
                stats = self.stats.setdefault(process.pid, ProcessStats(label))
                stats.cpu = times.user + times.system
                stats.peak_rss = max(stats.peak_rss, rss)
                stats.rss.append((now, rss))

    def cpu_by_process(self, names: Sequence[str]) -> dict[str, float]:
        """Latest CPU seconds of every process of the named services, by label."""
        self.sample()
        with self._lock:
            return {
                stats.label: stats.cpu
                for pid, stats in self.stats.items()
                if pid in self.current and _belongs(stats.label, names)
            }

    def window(self, names: Sequence[str], since: float, until: float) -> dict[str, Any]:
        """Peak RSS (bytes) and the RSS series of the named services' processes between two
        wall-clock times."""
        with self._lock:
            found = {}
            for stats in self.stats.values():
                series = [(at, rss) for at, rss in stats.rss if since <= at <= until]
                if series and _belongs(stats.label, names):
                    found[stats.label] = {
                        "peak_rss": max(rss for _at, rss in series),
                        "series": series,
                    }
            return found


def _belongs(label: str, names: Sequence[str]) -> bool:
    return any(label == name or label.startswith(f"{name} ") for name in names)


def cpu_spent(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """CPU seconds each process spent between two readings (new processes count from 0)."""
    return {label: after[label] - before.get(label, 0.0) for label in after}
