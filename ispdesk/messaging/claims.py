"""Claiming due outbound messages: the conditional UPDATEs that let exactly one worker send
each message (`sending.deliver` claims one just before its send; a sender pass claims
several at once, `sender.ClaimedAhead`). Hand-written (`lib.rawsql`): these run for every
message sent, where compiling querysets cost more than running them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import cache, lru_cache, partial
from typing import Any

from django.db import connection as db_connection
from django.db.models import F

from ispdesk.lib.rawsql import Select, column, execute, marks, moment, name, table
from ispdesk.messaging.models import GatewayConnection, OutboundMessage, OutboundStatus, Purpose

QUEUED = OutboundStatus.QUEUED
SENDING = OutboundStatus.SENDING


def due_sql() -> str:
    """Rows a worker may claim: queued and due, or `sending` by a worker whose claim expired;
    never echoes. Hand-written (`lib.rawsql`) for the statements every pass runs, whose
    querysets cost more to compile than to run; its parameters are `due_params(now)`."""

    col = partial(column, OutboundMessage)
    return (
        f"(({col('status')} = %s AND {col('next_attempt_at')} <= %s) OR {col('status')} = %s)"
        f" AND ({col('claim_expires_at')} IS NULL OR {col('claim_expires_at')} < %s)"
        f" AND NOT ({col('purpose')} = %s)"
    )


def due_params(now: datetime) -> list[Any]:
    at = moment(now)
    return [QUEUED, at, SENDING, at, Purpose.ECHO]


def claim_message(
    pk: int,
    worker: str,
    now: datetime,
    lease: timedelta,
    *,
    attempts: int | None = None,
    connection: GatewayConnection | None = None,
) -> bool:
    """Take one due message; True only for the single worker whose UPDATE changed the row.
    With `attempts`, only while the row still has that many (unchanged since it was read);
    with `connection`, only while that connection is as it was read (not saved since, not
    switched on or off): the caller may then send through the copy it holds."""
    # Hand-written (`lib.rawsql`): built as a queryset, this one UPDATE per message sent
    # cost more to compile than to run.
    sql = _claim_sql(db_connection.vendor, attempts is not None, connection is not None)
    params: list[Any] = [SENDING, worker[:100], moment(now + lease), pk, *due_params(now)]
    if attempts is not None:
        params.append(attempts)
    if connection is not None:
        params += [connection.pk, moment(connection.updated_at), connection.enabled]
    return execute(sql, params) == 1


def claim_listed(
    rows: Sequence[OutboundMessage], worker: str, now: datetime, lease: timedelta
) -> set[int]:
    """`claim_message` for several rows a pass listed, in one UPDATE: each taken only while
    still due, with the attempts it was listed with, through a connection as it was read.
    Returns the ids `worker` now holds (fewer than given where another worker was first or
    something changed; they are then read back by the claim's own expiry)."""
    if not rows:
        return set()
    connections = {row.connection_id: row.connection for row in rows}
    expires = moment(now + lease)
    params: list[Any] = [SENDING, worker[:100], expires, *due_params(now)]
    for row in rows:
        params += [row.pk, row.attempts]
    for gateway in connections.values():
        params += [gateway.pk, moment(gateway.updated_at), gateway.enabled]
    params += [row.pk for row in rows]
    changed = execute(_claim_listed_sql(db_connection.vendor, len(rows), len(connections)), params)
    if changed == len(rows):
        return {row.pk for row in rows}
    if not changed:
        return set()
    held = _held_select(db_connection.vendor, len(rows))
    return {pk for (pk,) in held.rows([*(row.pk for row in rows), worker[:100], expires, SENDING])}


def release_claims(pks: Iterable[int], worker: str) -> int:
    """Give back messages a pass claimed and did not try (it was stopped, or it ran so long
    their lease could end mid-send): queued again as they were, the claim's attempt undone."""
    held = OutboundMessage.objects.filter(pk__in=list(pks), claimed_by=worker, status=SENDING)
    return held.update(
        status=QUEUED, claimed_by="", claim_expires_at=None, attempts=F("attempts") - 1
    )


@lru_cache(maxsize=256)
def _claim_listed_sql(vendor: str, rows: int, connections: int) -> str:
    message, gateway = OutboundMessage, GatewayConnection
    col = partial(column, message)
    gcol = partial(column, gateway)
    attempts = name(message, "attempts")
    listed = " OR ".join([f"({col('id')} = %s AND {attempts} = %s)"] * rows)
    as_read = " OR ".join(
        [f"({gcol('id')} = %s AND {gcol('updated_at')} = %s AND {gcol('enabled')} = %s)"]
        * connections
    )
    # The rows by id: SQLite (which this project never ANALYZEs) would otherwise walk the
    # status index through the whole due backlog; NOT INDEXED still looks ids up.
    target = f"{table(message)} NOT INDEXED" if vendor == "sqlite" else table(message)
    return (
        f"UPDATE {target} SET {name(message, 'status')} = %s,"  # noqa: S608 - names from model meta
        f" {name(message, 'claimed_by')} = %s, {name(message, 'claim_expires_at')} = %s,"
        f" {attempts} = {attempts} + 1"
        f" WHERE {due_sql()} AND ({listed})"
        f" AND {col('connection')} IN (SELECT {gcol('id')} FROM {table(gateway)} WHERE {as_read})"
        f" AND {col('id')} IN ({marks(rows)})"
    )


@lru_cache(maxsize=64)
def _held_select(vendor: str, rows: int) -> Select:
    col = partial(column, OutboundMessage)
    return Select.of(
        f"SELECT {col('id')} FROM {table(OutboundMessage)} WHERE {col('id')} IN ({marks(rows)})"  # noqa: S608 - names from model meta
        f" AND {col('claimed_by')} = %s AND {col('claim_expires_at')} = %s"
        f" AND {col('status')} = %s",
        None,
    )


@cache
def _claim_sql(vendor: str, unchanged: bool, as_read: bool) -> str:
    message, gateway = OutboundMessage, GatewayConnection

    col = partial(column, message)
    attempts = name(message, "attempts")
    sql = (
        f"UPDATE {table(message)} SET {name(message, 'status')} = %s,"  # noqa: S608 - names from model meta
        f" {name(message, 'claimed_by')} = %s, {name(message, 'claim_expires_at')} = %s,"
        f" {attempts} = {attempts} + 1"
        f" WHERE {col('id')} = %s AND {due_sql()}"
    )
    if unchanged:
        sql += f" AND {col('attempts')} = %s"
    if as_read:
        sql += (
            f" AND {col('connection')} IN (SELECT {column(gateway, 'id')} FROM {table(gateway)}"  # noqa: S608 - names from model meta
            f" WHERE {column(gateway, 'id')} = %s AND {column(gateway, 'updated_at')} = %s"
            f" AND {column(gateway, 'enabled')} = %s)"
        )
    return sql
