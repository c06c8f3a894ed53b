"""Rows written with one INSERT per table at the end of a block instead of one per row.

A hand-over batch writes, for each of up to fifty customer messages, a chat line, the bot's
line and its outbox row, and history events: a few hundred single-row INSERTs, each a round
trip and a walk through the ORM. Inside `deferred_inserts()`, `insert(obj)` only collects the
instance; when the block ends, each table's rows go in with one `bulk_create`, tables whose
rows point at others' (a chat line at its outbox row) after those. Outside a block `insert`
saves at once, so callers behave the same with or without one.

An instance collected in a block has no primary key until the block ends: code inside must
not use it (events name it with `realtime.events.later_pk`, resolved after commit). Rows are
inserted in the order they were collected, so their ids keep that order within a table.

Changes to rows that exist go the same way: `update_later(obj)` writes the row once, after
the block's inserts, with the values the instance holds then (a chat that took three
messages of a batch is written once, not three times), every row in one statement where the
database allows (`lib.rawsql.write_together`). Code inside the block must not read such a
row back from the database: it holds the instance (the hand-over keeps its chats in the
batch's memo, `conversations.lifecycle`).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar, cast

from django.db import connection, connections, models, router
from django.db.models.constants import OnConflict

from ispdesk.lib.rawsql import Update, update_row, write_together

M = TypeVar("M", bound=models.Model)

_local = threading.local()


# Rows changed per UPDATE statement at the end of a block (each a WITH query on PostgreSQL,
# with a parameter per column: a chat row has about thirty).
UPDATES_PER_STATEMENT = 100


class _Pending:
    def __init__(self) -> None:
        self.rows: dict[type[models.Model], list[models.Model]] = {}
        # Instances to write at the end, by identity: the columns to write (None: all).
        self.changed: dict[int, tuple[models.Model, dict[str, None] | None]] = {}

    def add(self, instance: models.Model) -> None:
        self.rows.setdefault(type(instance), []).append(instance)

    def _waits_for_another(self, model: type[models.Model]) -> bool:
        """True while a table this one points at still has rows to insert."""
        return any(
            field.is_relation
            and field.related_model is not model
            and field.related_model in self.rows
            for field in model._meta.concrete_fields
        )

    def change(self, instance: models.Model, names: tuple[str, ...]) -> None:
        held = self.changed.get(id(instance))
        if held is None:
            self.changed[id(instance)] = (instance, dict.fromkeys(names) if names else None)
        elif held[1] is not None:
            if names:
                held[1].update(dict.fromkeys(names))
            else:
                self.changed[id(instance)] = (instance, None)

    def flush(self) -> None:
        while self.rows:
            ready = [model for model in self.rows if not self._waits_for_another(model)]
            model = ready[0] if ready else next(iter(self.rows))  # a cycle: Django will say
            _insert_all(model, self.rows.pop(model))
        writes = [
            Update(instance, tuple(names) if names else ())
            for instance, names in self.changed.values()
        ]
        self.changed = {}
        for start in range(0, len(writes), UPDATES_PER_STATEMENT):
            write_together(*writes[start : start + UPDATES_PER_STATEMENT])


def _insert_all(model: type[models.Model], rows: list[models.Model]) -> None:
    if connection.features.can_return_rows_from_bulk_insert:
        # Django fills each row's foreign keys from related rows saved since (a chat line's
        # outbox row) and sets the new primary keys on the instances.
        model._default_manager.bulk_create(rows)
        return
    for row in rows:
        row.save(force_insert=True)


@contextmanager
def deferred_inserts() -> Iterator[None]:
    """Collect `insert`ed rows and write them, a table at a time, when the block ends
    without an error (inside the caller's transaction). Nested blocks share the outer's."""
    if getattr(_local, "pending", None) is not None:
        yield
        return
    pending = _local.pending = _Pending()
    try:
        yield
        _local.pending = None  # rows a failing flush leaves are dropped with its transaction
        pending.flush()
    finally:
        _local.pending = None


def insert(instance: M) -> M:
    """Save a new row now, or at the end of the open `deferred_inserts` block."""
    pending: _Pending | None = getattr(_local, "pending", None)
    if pending is None:
        instance.save(force_insert=True)
    else:
        pending.add(instance)
    return instance


def update_later(instance: models.Model, *names: str) -> None:
    """`lib.rawsql.update_row(instance, *names)` now, or at the end of the open
    `deferred_inserts` block with the values the instance holds then (several calls for
    one instance write its row once, the columns of every call; no names: every column)."""
    pending: _Pending | None = getattr(_local, "pending", None)
    if pending is None:
        update_row(instance, *names)
    else:
        pending.change(instance, names)


def insert_new(rows: Sequence[models.Model]) -> int:
    """Insert rows of one model, skipping those a unique constraint already holds, in one
    statement per batch; returns how many were inserted (the database's own count, exact
    when a concurrent insert of the same row wins). The rows get no primary keys.

    The statement is written once per model, database and row count, not compiled by the ORM
    for every call: it is the webhook's one statement per delivery (issue 7). Each value is
    prepared by its field (`auto_now_add` included); unlike a queryset's insert, it takes
    plain values only: no expressions, no database defaults (`db_default`)."""
    if not rows:
        return 0
    model = type(rows[0])
    fields = _inserted_fields(model)
    db = router.db_for_write(model)
    wrapper = connections[db]
    batch = max(wrapper.ops.bulk_batch_size(list(fields), rows), 1)
    inserted = 0
    with wrapper.cursor() as cursor:
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            params = [
                field.get_db_prep_save(field.pre_save(row, True), wrapper)
                for row in chunk
                for field in fields
            ]
            cursor.execute(
                _insert_ignoring(model, wrapper.alias, wrapper.vendor, len(chunk)), params
            )
            inserted += max(cursor.rowcount, 0)
    return inserted


@functools.cache
def _inserted_fields(model: type[models.Model]) -> tuple[models.Field, ...]:
    return tuple(field for field in model._meta.concrete_fields if not field.primary_key)


@functools.lru_cache(maxsize=256)
def _insert_ignoring(model: type[models.Model], alias: str, vendor: str, count: int) -> str:
    """`INSERT … VALUES` of `count` rows that skips rows a unique constraint already holds, in
    the database's own words (`ON CONFLICT DO NOTHING`, `INSERT OR IGNORE`, `INSERT IGNORE`).
    (`vendor` keys the cache too: a test may switch the database behind an alias.)"""
    ops = connections[alias].ops
    fields = _inserted_fields(model)
    columns = ", ".join(ops.quote_name(cast(str, field.column)) for field in fields)
    row = f"({', '.join(['%s'] * len(fields))})"
    suffix = ops.on_conflict_suffix_sql(list(fields), OnConflict.IGNORE, None, None)
    statement = ops.insert_statement(on_conflict=OnConflict.IGNORE)
    table = ops.quote_name(model._meta.db_table)
    values = ", ".join([row] * count)
    return f"{statement} {table} ({columns}) VALUES {values} {suffix}".rstrip()
