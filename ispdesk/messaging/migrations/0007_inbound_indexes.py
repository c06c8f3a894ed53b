# The inbound table's indexes for a storm (see InboundMessage): the hand-over's index of
# waiting rows, partial where the database has partial indexes (created before the full one
# it replaces is dropped), and no index of the connection's own.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0006_inbound_stored_trigger"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="inboundmessage",
            index=models.Index(
                condition=models.Q(("handed_over_at__isnull", True)),
                fields=["handed_over_at", "id"],
                name="inbound_waiting_only",
            ),
        ),
        migrations.RemoveIndex(
            model_name="inboundmessage",
            name="inbound_waiting",
        ),
        migrations.AlterField(
            model_name="inboundmessage",
            name="connection",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="inbound_messages",
                to="messaging.gatewayconnection",
            ),
        ),
    ]
