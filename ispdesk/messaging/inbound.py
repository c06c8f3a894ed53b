"""Where stored inbound customer messages go next.

The service desk (conversations) registers a handler; until then messages are stored and
visible. Handlers run in the hand-over loop's batch transaction (`messaging.pending`), after
the webhook answered, and must only write rows (and queue outbox messages), never call a
gateway: a batch may be rolled back and run again (when one of its messages fails). Rows
written with `lib.bulk.insert` get their ids only as the batch (or message) ends.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack

from ispdesk.messaging.models import InboundMessage

InboundHandler = Callable[[InboundMessage], None]
BatchContext = Callable[[], AbstractContextManager[None]]
BatchPreparer = Callable[[list[InboundMessage]], None]
_handlers: list[InboundHandler] = []
_batch_contexts: list[BatchContext] = []
_preparers: list[BatchPreparer] = []


def register_inbound_handler(handler: InboundHandler) -> None:
    if handler not in _handlers:
        _handlers.append(handler)


def unregister_inbound_handler(handler: InboundHandler) -> None:
    if handler in _handlers:
        _handlers.remove(handler)


def hand_off(message: InboundMessage) -> None:
    for handler in list(_handlers):
        handler(message)


def register_batch_context(factory: BatchContext) -> None:
    """A context entered around each hand-over batch (outside its transaction): the desk
    drains each queue once per batch instead of once per chat."""
    if factory not in _batch_contexts:
        _batch_contexts.append(factory)


def batch_context() -> ExitStack:
    stack = ExitStack()
    for factory in list(_batch_contexts):
        stack.enter_context(factory())
    return stack


def register_batch_preparer(preparer: BatchPreparer) -> None:
    """Called with each batch's messages, in its transaction, before they are handed off:
    the desk reads the batch's contacts in one query instead of one per message."""
    if preparer not in _preparers:
        _preparers.append(preparer)


def prepare_batch(messages: list[InboundMessage]) -> None:
    if messages:
        for preparer in list(_preparers):
            preparer(messages)
