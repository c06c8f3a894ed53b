"""The team stamp, renewed by triggers whenever schedules, calendar exceptions, on-duty
days or shift tags change (`operators.stamp`): the assignment engine keeps those facts under
it."""

from django.db import migrations, models

from ispdesk.lib.dbtriggers import run
from ispdesk.operators import stamp


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
        migrations.RunPython(run(stamp.create_sql), run(stamp.drop_sql)),
    ]
