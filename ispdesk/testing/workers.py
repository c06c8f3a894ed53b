"""Workers released at the same moment, each with its own database connection.

On PostgreSQL and MariaDB they are forked processes, as separate workers would be;
SQLite's in-memory test database cannot be shared across processes, so there they are
threads. The test must use `transaction=True` so the workers see what it wrote.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, connections

JOIN_TIMEOUT = 300


def run_workers(target: Callable[..., None], args_per_worker: Sequence[Sequence[Any]]) -> None:
    """Run `target(barrier, *args)` once per entry of `args_per_worker`, all at once.

    `target` waits on the barrier before its work, so the workers start together, and
    closes its connections when done (`connections.close_all()`). A forked worker that
    fails exits non-zero, which fails the test.
    """
    count = len(args_per_worker)
    if connection.vendor == "sqlite":
        barrier: Any = threading.Barrier(count)
        threads = [
            threading.Thread(target=target, args=(barrier, *args)) for args in args_per_worker
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=JOIN_TIMEOUT)
        assert not any(thread.is_alive() for thread in threads)
        return
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(count)
    connections.close_all()  # children must not share the parent's socket
    processes = [context.Process(target=target, args=(barrier, *args)) for args in args_per_worker]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=JOIN_TIMEOUT)
    assert [process.exitcode for process in processes] == [0] * count
