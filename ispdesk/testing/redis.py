"""`redis_url`: an empty Redis database for one test.

A private `redis-server` (no persistence, a free port) is started once per test session when
the binary is installed; otherwise the local server's database 15 is used. Either way the
database is flushed before and after each test.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import pytest
import redis

from ispdesk.testing.sockets import free_port, wait_until

FALLBACK_URL = "redis://127.0.0.1:6379/15"
START_TIMEOUT = 10


def _answers_ping(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        if not _answers_ping(FALLBACK_URL):
            pytest.fail(
                "These tests need Redis: install redis-server (scripts/ensure-test-tools.sh) "
                f"or run one at {FALLBACK_URL}"
            )
        yield FALLBACK_URL
        return
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    with tempfile.TemporaryFile() as log:
        # The binary found on PATH, with fixed arguments: no untrusted input.
        process = subprocess.Popen(  # noqa: S603
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            try:
                wait_until(
                    lambda: _answers_ping(url),
                    timeout=START_TIMEOUT,
                    message=f"redis-server on port {port}",
                    still_starting=lambda: process.poll() is None,
                )
            except (RuntimeError, TimeoutError) as exc:
                log.seek(0)
                output = log.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"{exc}\n{output}") from None
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def redis_url(redis_server_url: str) -> Iterator[str]:
    client = redis.Redis.from_url(redis_server_url)
    try:
        client.flushdb()
        yield redis_server_url
        client.flushdb()
    finally:
        client.close()
