"""Lowering this process's CPU priority so that it takes effect under Linux autogroups.

With the kernel's autogroup scheduling on (`kernel.sched_autogroup_enabled`, the default of
most distributions), the CPU is first shared fairly between sessions, and a process's nice
value only weighs against the other processes of its own session. A worker started in a
session of its own (by a process supervisor, `setsid`, or the benchmark's harness) that only
lowered its nice value still took as much CPU as the web processes answering webhooks: on
this machine two busy processes in two sessions, one at nice 10, each got half a core; with
the niced one's session group at nice 10 as well, it got a tenth.

So a process that leads its own session lowers its session group's priority too
(`/proc/self/autogroup`); the group then holds only it and its children. One that shares a
session with others leaves the group alone: its nice value already counts against theirs.
Under a cgroup CPU controller (systemd units, containers) neither reaches across units: there
the units' CPU weights decide (see the deployment notes in the README).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

AUTOGROUP = Path("/proc/self/autogroup")


def lower_priority(by: int) -> None:
    """Lower this process's CPU priority by `by` (Unix nice), and its session group's to
    the same level when it leads its own session (Linux autogroups)."""
    if by <= 0 or not hasattr(os, "nice"):
        return
    niceness = os.nice(by)
    if os.getsid(0) != os.getpid() or not AUTOGROUP.exists():
        return
    try:
        AUTOGROUP.write_text(str(niceness))
    except OSError as exc:  # a kernel or container that does not allow it
        logger.info("could not lower this session's CPU priority (%s)", exc.strerror)
