"""Hand-written triggers (`tickets.loads`, `operators.stamp`): each module writes its
statements per database vendor; this runs them from a migration and puts them back after
any later `migrate` that lost them.

SQLite rebuilds a table to alter one of its columns, and the rebuilt table has no triggers:
a later migration of the tickets or schedules would silently stop the counts and the stamp.
So after every `migrate` the triggers are looked up in the database's catalog, and when one
is missing all of that module's are created again and its data rebuilt (a recount, a new
stamp). On PostgreSQL, altering the type of a column a trigger names fails instead: such a
migration drops the triggers first (`drop_sql`), and they come back the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.db.models.signals import post_migrate

Statements = Callable[[BaseDatabaseWrapper], Iterable[str]]


def run(statements: Statements) -> Callable[[Any, Any], None]:
    """A `RunPython` function that runs `statements(connection)` on the migrated database."""

    def migrate(apps: Any, schema_editor: Any) -> None:
        execute_all(schema_editor.connection, statements(schema_editor.connection))

    return migrate


def execute_all(connection: BaseDatabaseWrapper, statements: Iterable[str]) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def existing(connection: BaseDatabaseWrapper, names: Iterable[str]) -> set[str]:
    """Which of the named triggers the database has."""
    wanted = list(names)
    marks = ", ".join(["%s"] * len(wanted))
    sql = {
        "sqlite": f"SELECT name FROM sqlite_master WHERE type = 'trigger' AND name IN ({marks})",  # noqa: S608 - no values in it
        "postgresql": "SELECT tgname FROM pg_trigger"  # noqa: S608 - no values in it
        f" WHERE NOT tgisinternal AND tgname IN ({marks})",
        "mysql": "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS"  # noqa: S608 - no values in it
        f" WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME IN ({marks})",
    }[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(sql, wanted)
        return {name for (name,) in cursor.fetchall()}


def restore(
    connection: BaseDatabaseWrapper,
    keeper: type[Model],
    names: Iterable[str],
    drop: Statements,
    create: Statements,
    rebuild: Statements,
) -> bool:
    """Create the triggers again, and rebuild what they keep in `keeper`'s table, when any
    is missing; True when they were. Nothing while that table does not exist (migrated back
    before it)."""
    if keeper._meta.db_table not in connection.introspection.table_names():
        return False
    wanted = set(names)
    if existing(connection, wanted) == wanted:
        return False
    execute_all(connection, [*drop(connection), *create(connection), *rebuild(connection)])
    return True


def after_migrate(app: AppConfig, restore: Callable[[BaseDatabaseWrapper], bool]) -> None:
    """Run `restore(connection)` on the migrated database after every `migrate` of `app`
    (from its `ready()`)."""

    def restore_on(sender: AppConfig, using: str, **kwargs: Any) -> None:
        restore(connections[using])

    post_migrate.connect(restore_on, sender=app, weak=False, dispatch_uid=f"{app.label}.dbtriggers")
