"""On PostgreSQL, storing a customer message wakes the hand-over loops from inside the
INSERT (`messaging.stored_wakeup`), instead of a NOTIFY statement after each webhook."""

from django.db import migrations

from ispdesk.lib.dbtriggers import run
from ispdesk.messaging import stored_wakeup


class Migration(migrations.Migration):
    dependencies = [("messaging", "0005_inbound_hand_over")]

    operations = [
        migrations.RunPython(run(stored_wakeup.create_sql), run(stored_wakeup.drop_sql)),
    ]
