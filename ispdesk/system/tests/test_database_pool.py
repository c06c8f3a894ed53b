"""The PostgreSQL connection pool of production processes (off under tests, whose flushes
hang on a pooled connection): configured from DATABASE_POOL_SIZE, it lends connections
per request and thread, reuses them, and never opens more than its size.

Run in a process of its own with production settings, against the PostgreSQL server the
suite can always reach (whichever database the suite itself runs on)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

POSTGRES_SERVER = os.environ.get("ISPDESK_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")

SCRIPT = textwrap.dedent(
    """
    import json, threading
    import django
    django.setup()
    from django.conf import settings
    from django.db import connection

    def request(pids):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pids.append(cursor.fetchone()[0])
        connection.close()  # what Django does when a request ends: back to the pool

    sequential = []
    for _ in range(10):
        request(sequential)
    concurrent = []
    def worker():
        for _ in range(5):
            request(concurrent)
    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({
        "pool": settings.DATABASES["default"]["OPTIONS"]["pool"],
        "sequential": sorted(set(sequential)),
        "concurrent": sorted(set(concurrent)),
        "answered": len(concurrent),
    }))
    """
)


def test_production_processes_lend_a_bounded_pool_of_reused_connections():
    env = {
        **os.environ,
        "ISPDESK_TESTING": "0",
        "DJANGO_SETTINGS_MODULE": "ispdesk.settings",
        "DATABASE_URL": f"{POSTGRES_SERVER}/postgres",
        "DATABASE_POOL_SIZE": "3",
        "SECRET_KEY": "pool-test-" + "x" * 40,
        "ALLOWED_HOSTS": "localhost",
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])

    assert facts["pool"]["max_size"] == 3
    # Ten requests one after another: reused connections, not one each (the pool may open a
    # second while its first is still being established).
    assert 1 <= len(facts["sequential"]) <= 2
    # Six threads at once: all answered, over at most three connections.
    assert facts["answered"] == 30
    assert 1 <= len(facts["concurrent"]) <= 3
