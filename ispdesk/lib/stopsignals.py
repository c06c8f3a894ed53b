"""SIGINT and SIGTERM as a stop request a process's main loop waits for.

A Python signal handler runs in the main thread between two of its bytecodes, wherever that
thread happens to be; it must not take a lock the interrupted code may hold. A handler that
sets a `threading.Event` does: the event's `set` takes the lock its `wait` holds for a few
instructions on each wake-up, and a signal that lands there leaves the main thread waiting
for itself forever (a worker that never stopped, issue 7's CI run). Here the handler only
records the signal, and the interpreter's wake-up file descriptor (written by the C-level
handler, `signal.set_wakeup_fd`) ends the main loop's wait at once.
"""

from __future__ import annotations

import contextlib
import select
import signal
import socket
from collections.abc import Callable, Iterator
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """The stop request, from a signal or from the process's own code (`request`)."""

    def __init__(self) -> None:
        self.signal: int | None = None  # the first stop signal received
        self.requested = False
        # Called, in the handler, for every stop signal after the first (it may raise).
        self.again: Callable[[int], None] = lambda signum: None
        # Called, in the handler, with the first one.
        self.first: Callable[[int], None] = lambda signum: None
        self._reader, self._writer = socket.socketpair()
        for end in (self._reader, self._writer):
            end.setblocking(False)

    @property
    def stopping(self) -> bool:
        return self.requested or self.signal is not None

    def request(self) -> None:
        """Stop without a signal (from the main thread: it does not wake a `wait`)."""
        self.requested = True

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a stop signal; whether the process should stop."""
        if not self.stopping:
            with contextlib.suppress(InterruptedError):
                select.select([self._reader], [], [], timeout)
            with contextlib.suppress(BlockingIOError):
                while self._reader.recv(64):
                    pass
        return self.stopping

    def _handle(self, signum: int, frame: Any) -> None:
        # Nothing here may take a lock: no logging, no `threading` objects.
        if self.signal is not None:
            self.again(signum)
            return
        self.signal = signum
        self.first(signum)

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopSignals]:
        """Handle the stop signals (from the main thread) until the block ends; the previous
        handlers and wake-up descriptor are put back then."""
        previous = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}
        previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        try:
            yield self
        finally:
            signal.set_wakeup_fd(previous_fd)
            for sig, handler in previous.items():
                if signal.getsignal(sig) == self._handle:
                    signal.signal(sig, handler)
            self._reader.close()
            self._writer.close()
