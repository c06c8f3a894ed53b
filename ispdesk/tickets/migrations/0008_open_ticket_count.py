"""Each operator's open tickets, counted by triggers as tickets change (`tickets.loads`):
the assignment engine read them by counting every open ticket on each decision."""

from collections.abc import Iterator

from django.db import migrations, models
from django.db.backends.base.base import BaseDatabaseWrapper

from ispdesk.lib.dbtriggers import run
from ispdesk.tickets import loads


def _create_and_count(connection: BaseDatabaseWrapper) -> Iterator[str]:
    yield from loads.create_sql(connection)
    yield from loads.recount_sql(connection)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0007_open_by_assignee")]

    operations = [
        migrations.CreateModel(
            name="OpenTicketCount",
            fields=[
                ("operator_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("open_tickets", models.IntegerField(default=0)),
            ],
            options={
                "verbose_name": "open tickets of an operator",
                "verbose_name_plural": "open tickets of the operators",
            },
        ),
        migrations.RunPython(run(_create_and_count), run(loads.drop_sql)),
    ]
