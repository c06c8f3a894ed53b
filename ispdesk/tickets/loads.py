"""Each operator's open tickets, counted by the database as tickets change.

Every assignment decision needs every operator's load. Counting it from the tickets, even
from the partial index of open tickets, reads every open ticket (thousands at a large ISP, and
on PostgreSQL a table read for each one a recent write has not been vacuumed yet): it was the
slowest part of a decision. Instead, triggers on the tickets table keep one row per operator in
`OpenTicketCount` current inside the same transaction as the ticket's own change, whatever
made it (an action, the Splynx sync, an import, a queryset `update()`, SQL by hand), and a
rolled-back change rolls its count back with it.

A ticket counts for its assignee while it has one and is not closed (`TicketQuerySet.open`).
An increment creates the operator's row when it is missing (an operator's first ticket); a
decrement only changes an existing row. `recount()` rebuilds every row from the tickets (the
migration that adds the triggers runs it; so can an administrator, with `recount()` from
`ispdesk shell`, after writing tickets with triggers switched off).

Lock order: the triggers lock the count rows after the ticket row, and the count table is its
own (not the operators' rows that `lock_team()` locks), so a ticket closed while a decision
holds the team lock waits at most for that decision's commit and never deadlocks with it.
"""

from __future__ import annotations

from typing import cast

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

from ispdesk.lib import dbtriggers
from ispdesk.tickets.models import OpenTicketCount, Status, Ticket

_PREFIX = "ticket_open_count"


def _names(connection: BaseDatabaseWrapper) -> dict[str, str]:
    quote = connection.ops.quote_name

    def col(model: type[Model], name: str) -> str:
        return quote(cast(str, cast(Field, model._meta.get_field(name)).column))

    return {
        "tickets": quote(Ticket._meta.db_table),
        "counts": quote(OpenTicketCount._meta.db_table),
        "operator": col(OpenTicketCount, "operator_id"),
        "n": col(OpenTicketCount, "open_tickets"),
        "assignee": col(Ticket, "assignee"),
        "status": col(Ticket, "status"),
        "closed": f"'{Status.CLOSED.value}'",
    }


def _counted(row: str, names: dict[str, str]) -> str:
    """SQL: the OLD or NEW ticket row counts for its assignee."""
    return (
        f"({row}.{names['assignee']} IS NOT NULL AND {row}.{names['status']} <> {names['closed']})"
    )


def _same_counted(names: dict[str, str]) -> str:
    """SQL: before and after an update, the ticket counts for the same assignee."""
    same = f"OLD.{names['assignee']} = NEW.{names['assignee']}"
    return f"({_counted('OLD', names)} AND {_counted('NEW', names)} AND {same})"


def _increment(who: str, names: dict[str, str], vendor: str) -> str:
    counts, n = names["counts"], names["n"]
    insert = (
        f"INSERT INTO {counts} ({names['operator']}, {n})"  # noqa: S608 - names from model meta
        f" VALUES ({who}.{names['assignee']}, 1)"
    )
    if vendor == "mysql":
        return f"{insert} ON DUPLICATE KEY UPDATE {n} = {n} + 1"
    return f"{insert} ON CONFLICT ({names['operator']}) DO UPDATE SET {n} = {counts}.{n} + 1"


def _decrement(who: str, names: dict[str, str]) -> str:
    return (
        f"UPDATE {names['counts']} SET {names['n']} = {names['n']} - 1"  # noqa: S608 - names from model meta
        f" WHERE {names['operator']} = {who}.{names['assignee']}"
    )


def create_sql(connection: BaseDatabaseWrapper) -> list[str]:
    """The statements that create the counting triggers on this database."""
    vendor = connection.vendor
    n = _names(connection)
    up_old = f"{_counted('OLD', n)} AND NOT {_same_counted(n)}"
    up_new = f"{_counted('NEW', n)} AND NOT {_same_counted(n)}"
    tickets, fields = n["tickets"], f"{n['assignee']}, {n['status']}"
    if vendor == "postgresql":
        return [
            f"""CREATE OR REPLACE FUNCTION {_PREFIX}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM {n["counts"]};
  ELSIF TG_OP = 'INSERT' THEN
    IF {_counted("NEW", n)} THEN {_increment("NEW", n, vendor)}; END IF;
  ELSIF TG_OP = 'DELETE' THEN
    IF {_counted("OLD", n)} THEN {_decrement("OLD", n)}; END IF;
  ELSE
    IF {up_old} THEN {_decrement("OLD", n)}; END IF;
    IF {up_new} THEN {_increment("NEW", n, vendor)}; END IF;
  END IF;
  RETURN NULL;
END $$""",  # noqa: S608 - names from model meta
            f"CREATE TRIGGER {_PREFIX} AFTER INSERT OR DELETE OR UPDATE OF {fields}"
            f" ON {tickets} FOR EACH ROW EXECUTE FUNCTION {_PREFIX}()",
            f"CREATE TRIGGER {_PREFIX}_truncate AFTER TRUNCATE"
            f" ON {tickets} FOR EACH STATEMENT EXECUTE FUNCTION {_PREFIX}()",
        ]
    if vendor == "sqlite":
        return [
            f"CREATE TRIGGER {_PREFIX}_insert AFTER INSERT ON {tickets}"
            f" WHEN {_counted('NEW', n)} BEGIN {_increment('NEW', n, vendor)}; END",
            f"CREATE TRIGGER {_PREFIX}_delete AFTER DELETE ON {tickets}"
            f" WHEN {_counted('OLD', n)} BEGIN {_decrement('OLD', n)}; END",
            f"CREATE TRIGGER {_PREFIX}_update_old AFTER UPDATE OF {fields} ON {tickets}"
            f" WHEN {up_old} BEGIN {_decrement('OLD', n)}; END",
            f"CREATE TRIGGER {_PREFIX}_update_new AFTER UPDATE OF {fields} ON {tickets}"
            f" WHEN {up_new} BEGIN {_increment('NEW', n, vendor)}; END",
        ]
    if vendor == "mysql":
        return [
            f"CREATE TRIGGER {_PREFIX}_insert AFTER INSERT ON {tickets} FOR EACH ROW"
            f" BEGIN IF {_counted('NEW', n)} THEN {_increment('NEW', n, vendor)}; END IF; END",
            f"CREATE TRIGGER {_PREFIX}_delete AFTER DELETE ON {tickets} FOR EACH ROW"
            f" BEGIN IF {_counted('OLD', n)} THEN {_decrement('OLD', n)}; END IF; END",
            f"CREATE TRIGGER {_PREFIX}_update AFTER UPDATE ON {tickets} FOR EACH ROW BEGIN"
            f" IF {up_old} THEN {_decrement('OLD', n)}; END IF;"
            f" IF {up_new} THEN {_increment('NEW', n, vendor)}; END IF; END",
        ]
    raise NotImplementedError(f"no open-ticket triggers for {vendor}")


def trigger_names(connection: BaseDatabaseWrapper) -> list[str]:
    if connection.vendor == "postgresql":
        return [_PREFIX, f"{_PREFIX}_truncate"]
    if connection.vendor == "mysql":
        return [f"{_PREFIX}_{suffix}" for suffix in ("insert", "delete", "update")]
    return [f"{_PREFIX}_{suffix}" for suffix in ("insert", "delete", "update_old", "update_new")]


def restore(connection: BaseDatabaseWrapper) -> bool:
    """After a `migrate`: the triggers again and a recount, if any was lost (`lib.dbtriggers`)."""
    return dbtriggers.restore(
        connection, OpenTicketCount, trigger_names(connection), drop_sql, create_sql, recount_sql
    )


def drop_sql(connection: BaseDatabaseWrapper) -> list[str]:
    vendor = connection.vendor
    if vendor == "postgresql":
        tickets = _names(connection)["tickets"]
        return [
            *(f"DROP TRIGGER IF EXISTS {name} ON {tickets}" for name in trigger_names(connection)),
            f"DROP FUNCTION IF EXISTS {_PREFIX}()",
        ]
    return [f"DROP TRIGGER IF EXISTS {name}" for name in trigger_names(connection)]


def recount_sql(connection: BaseDatabaseWrapper) -> list[str]:
    """The statements that rebuild every operator's count from the tickets."""
    n = _names(connection)
    return [
        f"DELETE FROM {n['counts']}",  # noqa: S608 - names from model meta
        f"INSERT INTO {n['counts']} ({n['operator']}, {n['n']})"  # noqa: S608 - names from model meta
        f" SELECT {n['assignee']}, COUNT(*) FROM {n['tickets']}"
        f" WHERE {n['assignee']} IS NOT NULL AND {n['status']} <> {n['closed']}"
        f" GROUP BY {n['assignee']}",
    ]


def recount(connection: BaseDatabaseWrapper) -> None:
    """Rebuild every operator's count from the tickets (in the caller's transaction)."""
    dbtriggers.execute_all(connection, recount_sql(connection))
