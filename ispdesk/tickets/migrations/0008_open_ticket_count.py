"""Each operator's open tickets, counted by triggers as tickets change (`tickets.loads`):
the assignment engine read them by counting every open ticket on each decision."""

from typing import Any

from django.db import migrations, models


def create_triggers(apps: Any, schema_editor: Any) -> None:
    from ispdesk.tickets import loads

    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for statement in loads.create_sql(connection):
            cursor.execute(statement)
    loads.recount(connection)


def drop_triggers(apps: Any, schema_editor: Any) -> None:
    from ispdesk.tickets import loads

    with schema_editor.connection.cursor() as cursor:
        for statement in loads.drop_sql(schema_editor.connection):
            cursor.execute(statement)


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
        migrations.RunPython(create_triggers, drop_triggers),
    ]
