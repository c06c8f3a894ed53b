"""Child processes of a long-running command (`ispdesk worker` runs its sender in one).

A child lives and dies with its parent: it is started in a process group of its own (a
Ctrl-C in the terminal reaches the parent, which stops the child in order), and on Linux it
asks the kernel for a SIGTERM when the parent dies, so a parent killed outright (SIGKILL,
the OOM killer) never leaves an orphan sending on its own: it stops as it would at a normal
stop, finishing the send in hand (elsewhere it notices within a second, `parent_gone`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_ENV = "ISPDESK_PARENT_PID"


def start_child(args: Sequence[str]) -> subprocess.Popen[bytes]:
    """Start `python -m ispdesk.cli <args>` as a child sharing this process's output."""
    env = {**os.environ, PARENT_ENV: str(os.getpid())}
    command = [sys.executable, "-m", "ispdesk.cli", *args]
    return subprocess.Popen(command, env=env, process_group=0)  # noqa: S603 - our own command


def die_with_parent() -> None:
    """In a child started by `start_child`: end when the parent does.

    Where the kernel cannot be asked (not Linux), the child only notices at its next check of
    `parent_gone()`.
    """
    if not is_child():
        return
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            logger.warning("could not ask to end with the parent process")
    if parent_gone():
        # The parent died before the request above took effect.
        raise SystemExit(1)


def is_child() -> bool:
    """True in a process started by `start_child`."""
    return bool(os.environ.get(PARENT_ENV))


def parent_gone() -> bool:
    """True in a child whose parent has ended (it was adopted by another process)."""
    return is_child() and str(os.getppid()) != os.environ[PARENT_ENV]


def ask_to_stop(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM, if it still runs (one is enough: it finishes what it is doing and stops)."""
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)


def wait_or_kill(child: subprocess.Popen[bytes], timeout: float) -> int:
    """Wait up to `timeout` seconds for a child asked to stop, then kill it."""
    try:
        return child.wait(timeout)
    except subprocess.TimeoutExpired:
        logger.warning("child process %s did not stop within %ss; killing it", child.pid, timeout)
        child.kill()
        return child.wait()
