"""When a write needs a transaction or a savepoint of its own, and when it does not.

Outside a transaction one statement commits on its own and a failing one leaves nothing to
roll back: `atomic_unless_one_statement` spares it the BEGIN/COMMIT round trips. Inside a
block marked `redone_one_by_one_on_error` (the inbound hand-over's batches), a failure rolls
the whole block back and redoes it item by item, each in a savepoint, so `guarded()` writes
need no savepoint of their own there.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from django.db import transaction

_local = threading.local()


def atomic_unless_one_statement(one_statement: bool = True) -> AbstractContextManager[Any]:
    """`transaction.atomic()`, except for one statement outside any transaction."""
    if one_statement and not transaction.get_connection().in_atomic_block:
        return nullcontext()
    return transaction.atomic()


@contextmanager
def redone_one_by_one_on_error() -> Iterator[None]:
    """Mark a block that, should anything in it raise, is rolled back whole and redone one
    item at a time, each in a savepoint. Inside it, `guarded()` takes no savepoint of its
    own: a clash it would catch fails the block instead, and the redo catches it. Two round
    trips saved per guarded write."""
    previous = getattr(_local, "redone", False)
    _local.redone = True
    try:
        yield
    finally:
        _local.redone = previous


def guarded() -> transaction.Atomic:
    """`transaction.atomic()` for a write whose unique clash the caller catches and
    handles; without a savepoint inside `redone_one_by_one_on_error`."""
    return transaction.atomic(savepoint=not getattr(_local, "redone", False))
