"""A value read on demand and remembered for a few seconds, per process.

For settings-like rows every request would otherwise read (the business settings, the
WhatsApp connections a webhook is matched against). `clear()` forgets the value at once, and
a load that began before a clear is not kept, so a change saved in this process is never
hidden behind a load that raced it; other processes see it within `seconds`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class TimedCache(Generic[T]):
    def __init__(self, load: Callable[[], T], seconds: float) -> None:
        self.load = load
        self.seconds = seconds
        self.lock = threading.Lock()
        self.value: T | None = None
        self.loaded_at = 0.0
        self.generation = 0  # bumped by `clear`

    def get(self, *, fresh: bool = False) -> T:
        """The remembered value, or a new load (always one when `fresh`)."""
        with self.lock:
            young = time.monotonic() - self.loaded_at < self.seconds
            if not fresh and young and self.value is not None:
                return self.value
            generation = self.generation
        value = self.load()
        with self.lock:
            if generation == self.generation:
                self.value, self.loaded_at = value, time.monotonic()
        return value

    def clear(self) -> None:
        with self.lock:
            self.value = None
            self.generation += 1
