# The hand-over's index of waiting rows, partial where the database has partial indexes
# (see InboundMessage.Meta); created before the full one it replaces is dropped.

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
    ]
