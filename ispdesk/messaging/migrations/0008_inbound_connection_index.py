# The inbound table's connection needs no index of its own (see InboundMessage.connection).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0007_inbound_waiting_partial"),
    ]

    operations = [
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
