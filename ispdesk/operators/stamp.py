"""The team stamp: a value the database renews whenever the team's stable facts change.

Every assignment decision needs everyone's assignment windows, the business calendar's
exceptions, the shift tags and, on a day off, who is on duty. They change when someone edits
them, a few times a week, but reading them cost three or four queries per decision. Triggers
on their tables (and on the shift tags' members) write a new random value into `TeamStamp` in
the same transaction as the change, whatever made it; a process keeps what it read under the
stamp it read with them (`tickets.team`), and reads again when the stamp differs.

Random rather than counted: a change rolled back takes its new stamp with it, and a counter
would then hand the same number to the next, different change. No stamp (a database emptied
by hand) means nothing is kept.
"""

from __future__ import annotations

from typing import cast

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

from ispdesk.lib import dbtriggers
from ispdesk.operators.models import CalendarException, OnDuty, Schedule, ShiftTag, TeamStamp

_RENEW = "team_stamp_renew"
STAMP_ID = 1


def watched() -> list[type[Model]]:
    """The tables whose rows the stamp vouches for."""
    return [Schedule, CalendarException, OnDuty, ShiftTag, ShiftTag.operators.through]


def _renew(connection: BaseDatabaseWrapper) -> str:
    quote = connection.ops.quote_name
    meta = TeamStamp._meta
    pk = quote(cast(str, cast(Field, meta.pk).column))
    value = quote(cast(str, cast(Field, meta.get_field("value")).column))
    vendor = connection.vendor
    fresh = {
        "postgresql": "md5(random()::text || clock_timestamp()::text)",
        "sqlite": "lower(hex(randomblob(16)))",
        "mysql": "UUID()",
    }[vendor]
    insert = f"INSERT INTO {quote(meta.db_table)} ({pk}, {value}) VALUES ({STAMP_ID}, {fresh})"  # noqa: S608 - names from model meta
    if vendor == "mysql":
        return f"{insert} ON DUPLICATE KEY UPDATE {value} = VALUES({value})"
    return f"{insert} ON CONFLICT ({pk}) DO UPDATE SET {value} = excluded.{value}"


def _trigger(model: type[Model], event: str) -> str:
    return f"{_RENEW}_{model._meta.db_table}_{event}"  # under 63 characters


def create_sql(connection: BaseDatabaseWrapper) -> list[str]:
    """The statements that create the triggers on this database (and set a first stamp)."""
    vendor = connection.vendor
    quote = connection.ops.quote_name
    renew = _renew(connection)
    statements = [renew]
    if vendor == "postgresql":
        statements.append(
            f"CREATE OR REPLACE FUNCTION {_RENEW}() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN {renew}; RETURN NULL; END $$"
        )
        statements += [
            f"CREATE TRIGGER {_trigger(model, 'any')} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
            f" ON {quote(model._meta.db_table)} FOR EACH STATEMENT EXECUTE FUNCTION {_RENEW}()"
            for model in watched()
        ]
        return statements
    row = " FOR EACH ROW" if vendor == "mysql" else ""
    for model in watched():
        for event in ("INSERT", "UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER {_trigger(model, event.lower())} AFTER {event}"
                f" ON {quote(model._meta.db_table)}{row} BEGIN {renew}; END"
            )
    return statements


def trigger_names(connection: BaseDatabaseWrapper) -> list[str]:
    if connection.vendor == "postgresql":
        return [_trigger(model, "any") for model in watched()]
    return [
        _trigger(model, event) for model in watched() for event in ("insert", "update", "delete")
    ]


def renew_sql(connection: BaseDatabaseWrapper) -> list[str]:
    """A new stamp: what a process keeps is read again."""
    return [_renew(connection)]


def restore(connection: BaseDatabaseWrapper) -> bool:
    """After a `migrate`: the triggers again and a new stamp, if any was lost
    (`lib.dbtriggers`)."""
    return dbtriggers.restore(
        connection, TeamStamp, trigger_names(connection), drop_sql, create_sql, renew_sql
    )


def drop_sql(connection: BaseDatabaseWrapper) -> list[str]:
    quote = connection.ops.quote_name
    if connection.vendor == "postgresql":
        return [
            *(
                f"DROP TRIGGER IF EXISTS {_trigger(model, 'any')} ON {quote(model._meta.db_table)}"
                for model in watched()
            ),
            f"DROP FUNCTION IF EXISTS {_RENEW}()",
        ]
    return [f"DROP TRIGGER IF EXISTS {name}" for name in trigger_names(connection)]
