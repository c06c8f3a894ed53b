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
    """The stop request a signal makes."""

    def __init__(self) -> None:
        self.signal: int | None = None  # the first stop signal received
        # Called, in the handler, for every stop signal after the first (it may raise).
        self.again: Callable[[int], None] = lambda signum: None
        # Called, in the handler, with the first one.
        self.first: Callable[[int], None] = lambda signum: None
        self._reader: socket.socket | None = None  # while installed

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a stop signal (while installed; at once otherwise);
        whether the process should stop."""
        if self.signal is None and self._reader is not None:
            select.select([self._reader], [], [], timeout)
            with contextlib.suppress(BlockingIOError):
                while self._reader.recv(4096):
                    pass
        return self.signal is not None

    def _handle(self, signum: int, frame: Any) -> None:
        # Nothing here may take a lock: no logging, no `threading` objects.
        if self.signal is not None:
            self.again(signum)
            return
        self.signal = signum
        self.first(signum)

    @contextlib.contextmanager
    def installed(self, restore: bool = True) -> Iterator[StopSignals]:
        """Handle the stop signals (from the main thread) in the block. The previous wake-up
        descriptor is put back after it, and the previous handlers too unless `restore` is
        false: a process about to exit keeps these (a late signal meets `again`, not the
        default action)."""
        reader, writer = socket.socketpair()
        previous: dict[int, Any] = {}
        previous_fd = None
        try:
            for end in (reader, writer):
                end.setblocking(False)
            for sig in STOP_SIGNALS:
                previous[sig] = signal.signal(sig, self._handle)
            previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
            self._reader = reader
            yield self
        finally:
            self._reader = None
            if previous_fd is not None:
                signal.set_wakeup_fd(previous_fd)
            for number, handler in previous.items():
                # Not over a handler set meanwhile (a child's SIG_IGN), nor one set from C.
                if restore and handler is not None and signal.getsignal(number) == self._handle:
                    signal.signal(number, handler)
            reader.close()
            writer.close()
