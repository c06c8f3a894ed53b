"""A process lowers its CPU priority where the kernel counts it: its nice value always, and its
session group's when it leads its own session (Linux autogroups), checked in real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ispdesk.lib.priority import AUTOGROUP

ROOT = Path(__file__).resolve().parents[3]
# /proc/self/autogroup reads "/autogroup-1583 nice 10", or nothing at all for a process in
# the kernel's default group: one whose session descends from init's without a setsid, as
# under some CI runners.
REPORT = (
    "import os, sys; from ispdesk.lib.priority import AUTOGROUP, lower_priority; "
    "lower_priority(int(sys.argv[1])); "
    "print(os.getpriority(os.PRIO_PROCESS, 0)); print(AUTOGROUP.read_text().strip())"
)


def own_group() -> str:
    return AUTOGROUP.read_text().strip()


def lowered(by: int, *, own_session: bool) -> tuple[int, str]:
    """(nice value, session group line) of a process that lowered itself by `by`."""
    done = subprocess.run(
        [sys.executable, "-c", REPORT, str(by)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=own_session,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    nice, _, group = done.stdout.partition("\n")
    return int(nice), group.strip()


class TestAutogroups:
    __test__ = AUTOGROUP.exists()

    def test_a_process_leading_its_own_session_lowers_its_group_too(self):
        base = os.getpriority(os.PRIO_PROCESS, 0)

        nice, group = lowered(7, own_session=True)

        assert nice == base + 7
        assert group.endswith(f" nice {base + 7}"), group

    def test_a_process_sharing_a_session_leaves_the_group_to_the_others(self):
        base = os.getpriority(os.PRIO_PROCESS, 0)

        # Same session, same group: the line is this test's own, unchanged (empty in the
        # kernel's default group, which has no nice value of its own).
        assert lowered(7, own_session=False) == (base + 7, own_group())

    def test_nothing_to_lower_changes_nothing(self):
        base = os.getpriority(os.PRIO_PROCESS, 0)

        nice, group = lowered(0, own_session=True)

        assert nice == base
        assert group.endswith(" nice 0"), group
