"""The open tickets by assignee, for the assignment engine's load counts (a partial index:
MySQL and MariaDB have none, and Django skips it there)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("operators", "0002_service_desk"),
        ("tickets", "0006_splynx_ticket_unique"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(("status", "closed"), _negated=True),
                fields=["assignee"],
                name="ticket_open_by_assignee",
            ),
        ),
    ]
