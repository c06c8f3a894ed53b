"""On PostgreSQL, the database itself wakes the hand-over loops when a customer message is
stored.

A web process storing a webhook's messages used to send `SELECT pg_notify(...)` after each
delivery (`lib.wakeups.notify`): a second statement and round trip per delivery, a fifth of
the webhook's cost at 1,000 messages a second (issue 7). A trigger on the inbound messages'
table sends the same notification from inside the INSERT instead. PostgreSQL delivers it when
the transaction commits, never after a rollback, and once per transaction however many rows
it stored; an INSERT that stored nothing (a repeated delivery) sends none.

Other databases have no NOTIFY: their loops poll, as before, and no trigger is created.
Like the other hand-written triggers (`lib.dbtriggers`), this one is put back after any
later `migrate` that lost it.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

from ispdesk.lib import dbtriggers
from ispdesk.lib.wakeups import HAND_OVER
from ispdesk.messaging.models import InboundMessage

TRIGGER = "ispdesk_inbound_stored"


def trigger_names(connection: BaseDatabaseWrapper) -> list[str]:
    return [TRIGGER] if connection.vendor == "postgresql" else []


def create_sql(connection: BaseDatabaseWrapper) -> list[str]:
    if connection.vendor != "postgresql":
        return []
    table = connection.ops.quote_name(InboundMessage._meta.db_table)
    return [
        f"CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN PERFORM pg_notify('{HAND_OVER}', ''); RETURN NULL; END $$",
        f"CREATE TRIGGER {TRIGGER} AFTER INSERT ON {table}"
        f" FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()",
    ]


def drop_sql(connection: BaseDatabaseWrapper) -> list[str]:
    if connection.vendor != "postgresql":
        return []
    table = connection.ops.quote_name(InboundMessage._meta.db_table)
    return [f"DROP TRIGGER IF EXISTS {TRIGGER} ON {table}", f"DROP FUNCTION IF EXISTS {TRIGGER}()"]


def restore(connection: BaseDatabaseWrapper) -> bool:
    """After a `migrate`: the trigger again, if it was lost (nothing to rebuild)."""
    names = trigger_names(connection)
    if not names:
        return False
    return dbtriggers.restore(connection, InboundMessage, names, drop_sql, create_sql, _nothing)


def _nothing(connection: BaseDatabaseWrapper) -> list[str]:
    return []
