"""Planner statistics are refreshed for the tables that changed enough, and only those."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from ispdesk.jobs.builtin import DATABASE_STATISTICS
from ispdesk.jobs.registry import get_job
from ispdesk.lib.dbstats import MIN_CHANGES, TableActivity, due_for_analyze, refresh_statistics
from ispdesk.lib.wakeups import connect_params
from ispdesk.messaging.models import GatewayConnection, InboundMessage

POSTGRESQL = connection.vendor == "postgresql"

activities = st.lists(
    st.builds(
        TableActivity,
        name=st.text(alphabet="abcdefghij_", min_size=1, max_size=12),
        changed=st.integers(min_value=0, max_value=3 * MIN_CHANGES),
    ),
    unique_by=lambda table: table.name,
    max_size=30,
)


@given(activities, st.integers(min_value=1, max_value=2 * MIN_CHANGES))
def test_exactly_the_tables_past_the_threshold_are_due_most_changed_first(tables, threshold):
    due = due_for_analyze(tables, threshold)

    changed = {table.name: table.changed for table in tables}
    assert set(due) == {table.name for table in tables if table.changed >= threshold}
    assert [changed[name] for name in due] == sorted((changed[name] for name in due), reverse=True)


def test_a_quiet_table_is_left_alone_and_a_busy_one_is_not():
    tables = [TableActivity("contacts", MIN_CHANGES - 1), TableActivity("inbound", MIN_CHANGES)]

    assert due_for_analyze(tables) == ["inbound"]


def stored(count: int) -> None:
    connection_row = GatewayConnection.objects.create(kind="simulator", name="Soporte")
    now = timezone.now()
    InboundMessage.objects.bulk_create(
        InboundMessage(connection=connection_row, provider_id=f"m{n}", chat_id="1", sent_at=now)
        for n in range(count)
    )


def estimated_rows(table: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
        [(estimate,)] = cursor.fetchall()
    return float(estimate)


def flush_activity_counts() -> None:
    """This session's row counts reach `pg_stat_user_tables` when it next goes idle."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT pg_stat_clear_snapshot()")


@pytest.mark.django_db(transaction=True)
class TestOnPostgreSQL:
    __test__ = POSTGRESQL

    def test_a_table_written_since_its_last_analyze_is_analyzed(self):
        table = InboundMessage._meta.db_table
        stored(150)
        flush_activity_counts()

        analyzed = refresh_statistics(min_changes=100)

        assert table in analyzed
        # ANALYZE counted the rows: the planner now knows the table holds 150.
        assert estimated_rows(table) == 150

    def test_a_table_autovacuum_holds_is_skipped_not_waited_for(self):
        import psycopg  # the postgres extra

        table = InboundMessage._meta.db_table
        stored(120)
        flush_activity_counts()
        vacuuming = psycopg.connect(**connect_params(connection))
        try:
            # What VACUUM and ANALYZE hold. Waiting for it would have cancelled the VACUUM.
            vacuuming.execute(f"LOCK TABLE {table} IN SHARE UPDATE EXCLUSIVE MODE")
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '5s'")  # a wait fails the test, not hangs
            refresh_statistics(min_changes=100)
        finally:
            vacuuming.close()
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")

        assert estimated_rows(table) != 120

    def test_nothing_is_analyzed_below_the_threshold(self):
        stored(10)
        flush_activity_counts()

        assert refresh_statistics(min_changes=10**9) == []

    def test_the_job_runs_on_postgresql(self):
        assert get_job(DATABASE_STATISTICS) is not None


@pytest.mark.django_db
class TestElsewhere:
    __test__ = not POSTGRESQL

    def test_other_databases_are_left_to_themselves(self):
        stored(10)

        assert refresh_statistics(min_changes=1) == []

    def test_no_job_runs_for_nothing_elsewhere(self):
        assert get_job(DATABASE_STATISTICS) is None
