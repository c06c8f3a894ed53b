"""Remembering slowly changing lookups for the length of one batch of work.

A batch (the inbound hand-over handles up to fifty customer messages in one transaction)
reads the same business calendar, area hours, bot flows and message templates for every
message. Inside `memo_scope()`, `remembered(key, compute)` computes each key once; outside
one it simply computes, so callers behave the same with or without a batch around them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

_local = threading.local()


@contextmanager
def memo_scope() -> Iterator[None]:
    """Remember `remembered` values until the block ends (nested blocks share the outer's)."""
    if _values() is not None:
        yield
        return
    _local.values = {}
    try:
        yield
    finally:
        _local.values = None


def _values() -> dict[Hashable, Any] | None:
    return getattr(_local, "values", None)  # type: ignore[no-any-return]


def remembered(key: Hashable, compute: Callable[[], T]) -> T:
    values = _values()
    if values is None:
        return compute()
    if key not in values:
        values[key] = compute()
    return values[key]  # type: ignore[no-any-return]


def in_memo_scope() -> bool:
    return _values() is not None


def remember(key: Hashable, value: Any) -> None:
    """Set a key's value in the open scope (a row this batch just wrote); no-op outside."""
    if (values := _values()) is not None:
        values[key] = value


def forget(key: Hashable) -> None:
    if (values := _values()) is not None:
        values.pop(key, None)


def forget_all() -> None:
    """Drop every value of the open scope: what a rolled-back savepoint wrote (a contact
    created, an alias recorded) must not be remembered."""
    if (values := _values()) is not None:
        values.clear()
