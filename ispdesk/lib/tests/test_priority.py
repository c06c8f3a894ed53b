"""A process lowers its CPU priority where the kernel counts it: its nice value always, and its
session group's when it leads its own session (Linux autogroups), checked in real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ispdesk.lib.priority import AUTOGROUP

ROOT = Path(__file__).resolve().parents[3]
# The session group's nice value is the last word of /proc/self/autogroup
# ("/autogroup-1583 nice 10").
REPORT = (
    "import os, sys; from ispdesk.lib.priority import AUTOGROUP, lower_priority; "
    "lower_priority(int(sys.argv[1])); "
    "print(os.getpriority(os.PRIO_PROCESS, 0), AUTOGROUP.read_text().split()[-1])"
)


def autogroup_nice() -> int:
    return int(AUTOGROUP.read_text().split()[-1])


def lowered(by: int, *, own_session: bool) -> tuple[int, int]:
    """(nice value, session group's nice value) of a process that lowered itself by `by`."""
    done = subprocess.run(
        [sys.executable, "-c", REPORT, str(by)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=own_session,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    nice, group = done.stdout.split()
    return int(nice), int(group)


class TestAutogroups:
    __test__ = AUTOGROUP.exists()

    def test_a_process_leading_its_own_session_lowers_its_group_too(self):
        base = os.getpriority(os.PRIO_PROCESS, 0)

        assert lowered(7, own_session=True) == (base + 7, base + 7)

    def test_a_process_sharing_a_session_leaves_the_group_to_the_others(self):
        base = os.getpriority(os.PRIO_PROCESS, 0)

        assert lowered(7, own_session=False) == (base + 7, autogroup_nice())

    def test_nothing_to_lower_changes_nothing(self):
        base = os.getpriority(os.PRIO_PROCESS, 0)

        assert lowered(0, own_session=True) == (base, 0)
