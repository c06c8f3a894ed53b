"""One local ticket per Splynx ticket. Its own migration: on PostgreSQL the table cannot be
altered in the transaction that just wrote 0005's history rows (pending trigger events)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0005_splynx_reopen_and_link_once"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="ticket",
            constraint=models.UniqueConstraint(
                fields=("splynx_ticket_id",), name="ticket_splynx_ticket_id_unique"
            ),
        ),
    ]
