"""Planner statistics kept current for tables that change fast (PostgreSQL).

PostgreSQL plans each statement from statistics that ANALYZE takes. Autovacuum analyzes a
table only once a tenth of its rows changed since the last time (checking once a minute),
and not at all where it is switched off. An outage storm changes a big table's shape in
minutes without reaching that: the inbound and outbound queues go from nothing waiting to
thousands, and plans made from the calm before (nothing waits, so an index on the status
reads "almost nothing") read the whole backlog for every batch.

`refresh_statistics` analyzes each table of the database with at least `MIN_CHANGES` rows
written since its last ANALYZE (by autovacuum or by anyone): the periodic job
`database.statistics` (registered on PostgreSQL only) runs it every half minute. On a quiet
system it analyzes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection

logger = logging.getLogger(__name__)

# Rows written (inserted, updated, deleted) since a table's last ANALYZE that make it due.
# A storm's queues pass this within seconds; a quiet day's tables in hours, where
# autovacuum's own threshold (a tenth of a big table) would take weeks.
MIN_CHANGES = 5000


@dataclass(frozen=True)
class TableActivity:
    name: str
    changed: int  # rows written since the table's last ANALYZE


def due_for_analyze(tables: Iterable[TableActivity], min_changes: int = MIN_CHANGES) -> list[str]:
    """The tables to analyze now, most changed first."""
    due = [table for table in tables if table.changed >= min_changes]
    return [table.name for table in sorted(due, key=lambda table: (-table.changed, table.name))]


def table_activity() -> list[TableActivity]:
    """Every table of the current schema with the rows written since its last ANALYZE."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_mod_since_analyze FROM pg_stat_user_tables"
            " WHERE schemaname = current_schema()"
        )
        return [TableActivity(name, int(changed or 0)) for name, changed in cursor.fetchall()]


def refresh_statistics(min_changes: int = MIN_CHANGES) -> list[str]:
    """ANALYZE the tables that changed enough (PostgreSQL only); return their names (a
    table locked by autovacuum at that moment is named but skipped)."""
    if connection.vendor != "postgresql":
        return []
    analyzed = due_for_analyze(table_activity(), min_changes)
    with connection.cursor() as cursor:
        for name in analyzed:
            # SKIP_LOCKED: a table autovacuum is working on (or another ANALYZE) is left for
            # the next run. Waiting for its lock would cancel autovacuum's VACUUM instead.
            cursor.execute(f"ANALYZE (SKIP_LOCKED) {connection.ops.quote_name(name)}")
    if analyzed:
        logger.info("planner statistics refreshed for %s", ", ".join(analyzed))
    return analyzed
