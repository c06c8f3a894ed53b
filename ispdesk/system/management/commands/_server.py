"""Shared pieces of the serve/web/worker/demo commands."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from ispdesk.lib.stopsignals import STOP_SIGNALS, StopSignals
from ispdesk.lib.wakeups import WakeListener, listen_for

logger = logging.getLogger("ispdesk")

# How long a stopping process waits for a loop to finish the job it is running.
LOOP_STOP_TIMEOUT = 30
# How often the main loop looks for a loop, child or parent that ended.
SIGNAL_CHECK_SECONDS = 0.5


def add_bind_arguments(parser: Any) -> None:
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))


class LoopThread:
    """A background loop and the thread that runs it."""

    def __init__(self, loop: Any) -> None:
        self.loop = loop
        self.thread = threading.Thread(target=loop.run, name=type(loop).__name__, daemon=True)


# The background loops, by the names `ispdesk worker --loops` takes.
HAND_OVER, SENDER, JOBS = "hand-over", "sender", "jobs"
LOOP_NAMES = (HAND_OVER, SENDER, JOBS)


class Loops(list[LoopThread]):
    """Running loops, and the listener that wakes them from other processes (PostgreSQL's
    NOTIFY, `lib.wakeups`; None elsewhere)."""

    listener: WakeListener | None = None


def start_loops(names: Sequence[str] = LOOP_NAMES) -> Loops:
    """Start the named background loops (customer messages to the desk, outbox sender,
    periodic jobs) in daemon threads, and their wake-up listener; `stop_loops` them."""
    from ispdesk.jobs.runner import SchedulerLoop
    from ispdesk.lib.calendar import preload_holidays
    from ispdesk.lib.heap import settle
    from ispdesk.messaging.pending import HandOverLoop
    from ispdesk.messaging.sender import SenderLoop

    preload_holidays()
    settle()
    kinds: dict[str, Any] = {HAND_OVER: HandOverLoop, SENDER: SenderLoop, JOBS: SchedulerLoop}
    loops = Loops(LoopThread(kinds[name]()) for name in LOOP_NAMES if name in names)
    for loop in loops:
        loop.thread.start()
    loops.listener = listen_for(loop.loop for loop in loops)
    return loops


def stop_loops(loops: Loops, timeout: float = LOOP_STOP_TIMEOUT) -> None:
    """Ask every loop to stop, then wait for each to finish what it is doing."""
    if loops.listener is not None:
        loops.listener.stop()
    for loop in loops:
        loop.loop.stop()
    for loop in loops:
        loop.thread.join(timeout)
        if loop.thread.is_alive():
            logger.warning("%s did not stop within %ss", loop.thread.name, timeout)


KEEP_ALIVE_SECONDS = 75


def uvicorn_options(host: str, port: int) -> dict[str, Any]:
    return {
        "host": host,
        "port": port,
        "lifespan": "off",
        "ws": "websockets-sansio",
        "proxy_headers": settings.HTTPS,
        "log_level": str(settings.LOG_LEVEL).lower(),
        # Django's LOGGING handles uvicorn's records too, through the filter that hides
        # webhook secrets in access-log lines.
        "log_config": None,
        # Keep websocket frames well under the channel layer's message size.
        "ws_max_size": 1024 * 1024,
        # No permessage-deflate: the console's frames are small JSON, compressing each one
        # for every socket was a tenth of the embedded server's event loop (py-spy, issue
        # 7), and each socket's zlib state would hold hundreds of KB.
        "ws_per_message_deflate": False,
        # An idle keep-alive connection stays open longer than the clients' own idle limit
        # (httpx 5 s, nginx upstreams 60 s): with uvicorn's default of 5 s, a gateway's next
        # POST could cross our close on the wire and fail unanswered (seen in the benchmark
        # as a delivery never acknowledged).
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
    }


class QuietStop:
    """Makes SIGINT/SIGTERM stop a uvicorn server and the process end with status 0.

    uvicorn handles these signals while it runs, then raises the same signal again once it
    has shut down, which would end the process with a KeyboardInterrupt traceback (SIGINT) or
    status -15 (SIGTERM). These handlers receive that second signal, and any signal that
    arrives before uvicorn installs its own. A signal after `server_stopped()` (while the
    background loops finish their jobs) forces the exit.
    """

    def __init__(self, server: Any) -> None:
        self.server = server
        self.stopped = False
        for sig in STOP_SIGNALS:
            signal.signal(sig, self.handle)

    def handle(self, signum: int, frame: Any) -> None:
        if self.stopped:
            raise SystemExit(1)
        self.server.should_exit = True

    def server_stopped(self) -> None:
        self.stopped = True


def serve(host: str, port: int, with_loops: bool) -> None:
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config("ispdesk.asgi:application", **uvicorn_options(host, port))
    )
    quiet_stop = QuietStop(server)
    loops = start_loops() if with_loops else Loops()
    try:
        server.run()  # handles SIGINT/SIGTERM and returns after a graceful shutdown
        quiet_stop.server_stopped()
    finally:
        stop_loops(loops)
        logger.info("ispdesk stopped")


def run_loops_until_signal(
    names: Sequence[str] = LOOP_NAMES, children: Sequence[subprocess.Popen[bytes]] = ()
) -> bool:
    """Run the named background loops until SIGINT or SIGTERM, then stop them cleanly, and
    the child processes with them. Returns False when a loop, a child or the wake-up
    listener ended on its own, or a child did not stop cleanly (the process should exit with
    an error, so its supervisor restarts it).

    A second signal while they finish what they are doing ends the process at once, except
    in a child: its parent (or a supervisor signalling the whole group) may well signal it
    twice, and the parent kills it if it takes too long. (A stop that began without a
    signal, a loop or process having ended, takes a signal as a first one.)
    """
    from ispdesk.lib.children import ask_to_stop, is_child, parent_gone, wait_or_kill

    stop = StopSignals()
    if is_child():
        # The parent's SIGTERM may come after the supervisor's, even as this process exits,
        # when Python has put back the default action (ending it, status -15) in place of
        # the handler: the signals that follow the first are ignored instead.
        stop.first = _ignore_the_rest
    else:
        stop.again = _exit_at_once
    clean = True
    loops = Loops()
    # The handlers stay after the block, as the process exits.
    with stop.installed(restore=False):
        try:
            loops = start_loops(names)
            # A timed wait keeps an eye on the loops and the processes.
            while not stop.wait(SIGNAL_CHECK_SECONDS):
                ended = [loop.thread.name for loop in loops if not loop.thread.is_alive()]
                ended += [f"child process {c.pid}" for c in children if c.poll() is not None]
                if loops.listener is not None and not loops.listener.is_alive():
                    ended.append("the wake-up listener")
                if parent_gone():
                    ended.append("the parent process")
                for name in ended:
                    logger.error("%s ended unexpectedly; stopping", name)
                if ended:
                    clean = False
                    break
            if stop.signal is not None:
                logger.info("received signal %s, stopping", stop.signal)
        finally:
            for child in children:
                ask_to_stop(child)  # stops alongside this process's own loops
            stop_loops(loops)
            for child in children:
                if (status := wait_or_kill(child, LOOP_STOP_TIMEOUT)) != 0:
                    logger.warning("child process %s ended with status %s", child.pid, status)
                    clean = False
    return clean


def _ignore_the_rest(signum: int) -> None:
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def _exit_at_once(signum: int) -> None:
    raise SystemExit(1)
