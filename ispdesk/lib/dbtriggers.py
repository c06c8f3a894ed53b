"""Running the hand-written trigger statements of a migration (`tickets.loads`,
`operators.stamp`): each module writes its statements per database vendor."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

Statements = Callable[[BaseDatabaseWrapper], Iterable[str]]


def run(statements: Statements) -> Callable[[Any, Any], None]:
    """A `RunPython` function that runs `statements(connection)` on the migrated database."""

    def migrate(apps: Any, schema_editor: Any) -> None:
        connection = schema_editor.connection
        with connection.cursor() as cursor:
            for statement in statements(connection):
                cursor.execute(statement)

    return migrate
