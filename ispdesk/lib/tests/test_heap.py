"""Startup objects frozen out of the garbage collector's generations (`lib.heap.settle`)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys

from ispdesk.lib.heap import settle

PROBE = """
import gc, json, sys
import django
django.setup()
from ispdesk.lib.heap import settle
before = gc.get_freeze_count()
settle()
print(json.dumps({
    "before": before,
    "after": gc.get_freeze_count(),
    "views_loaded": "ispdesk.conversations.views" in sys.modules,
}))
"""


def test_a_server_process_freezes_what_it_loaded_at_startup(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "PYTEST_VERSION"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="ispdesk.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'heap.sqlite3'}",
        ISPDESK_DATA_DIR=str(tmp_path),
        ISPDESK_TESTING="0",
        SECRET_KEY="heap-test-secret-key-0123456789abcdefghijklmnopqrstu",
    )
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])

    assert found["before"] == 0
    # Django, ispdesk's models and every view module: tens of thousands of objects.
    assert found["after"] > 20_000
    assert found["views_loaded"] is True


def test_under_tests_nothing_is_frozen():
    before = gc.get_freeze_count()
    settle()
    assert gc.get_freeze_count() == before
