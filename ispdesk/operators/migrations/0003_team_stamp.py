"""The team stamp, renewed by triggers whenever schedules, calendar exceptions, on-duty
days or shift tags change (`operators.stamp`): the assignment engine keeps those facts under it."""

from typing import Any

from django.db import migrations, models


def create_triggers(apps: Any, schema_editor: Any) -> None:
    from ispdesk.operators import stamp

    with schema_editor.connection.cursor() as cursor:
        for statement in stamp.create_sql(schema_editor.connection):
            cursor.execute(statement)


def drop_triggers(apps: Any, schema_editor: Any) -> None:
    from ispdesk.operators import stamp

    with schema_editor.connection.cursor() as cursor:
        for statement in stamp.drop_sql(schema_editor.connection):
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("operators", "0002_service_desk")]

    operations = [
        migrations.CreateModel(
            name="TeamStamp",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("value", models.CharField(max_length=64)),
            ],
            options={"verbose_name": "team stamp", "verbose_name_plural": "team stamps"},
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
