"""On PostgreSQL, the database itself wakes the hand-over loops when a customer message is
stored.

A web process storing a webhook's messages used to send `SELECT pg_notify(...)` after each
delivery (`lib.wakeups.notify`): a second statement and round trip per delivery, a fifth of
the webhook's cost at 1,000 messages a second (issue 7). A trigger on the inbound messages'
table sends the same notification from inside the INSERT instead. PostgreSQL delivers it when
the transaction commits, never after a rollback, and once per transaction however many rows
it stored; an INSERT that stored nothing (a repeated delivery), or only rows already handed
over, sends none.

The notification is now part of the delivery's transaction: should PostgreSQL's notification
queue be full (a listener stuck for hours), the commit fails and the webhook answers 503, so
the gateway retries, where a NOTIFY after the commit would only have lost a wake-up. The
queue holds 8 GB by default and the worker's listener empties it continuously.

Other databases have no NOTIFY: their loops poll, as before, and no trigger is created.
Like the other hand-written triggers (`lib.dbtriggers`), this one is put back after any
later `migrate` that lost it.
"""

from __future__ import annotations

from typing import cast

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
    quote = connection.ops.quote_name
    table = quote(InboundMessage._meta.db_table)
    waiting = quote(cast(str, InboundMessage._meta.get_field("handed_over_at").column))
    return [
        f"CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN PERFORM pg_notify('{HAND_OVER}', ''); RETURN NULL; END $$",
        # Dropped first: a `migrate` back below this migration puts it back (`restore`, run
        # after every migrate), and the way forward again must not find it there.
        f"DROP TRIGGER IF EXISTS {TRIGGER} ON {table}",
        f"CREATE TRIGGER {TRIGGER} AFTER INSERT ON {table}"
        f" FOR EACH ROW WHEN (NEW.{waiting} IS NULL) EXECUTE FUNCTION {TRIGGER}()",
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
