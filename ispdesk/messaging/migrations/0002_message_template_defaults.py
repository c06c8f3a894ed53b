"""Install the shipped message templates (Spanish and English) that have no row yet."""

from django.db import migrations


def install_defaults(apps, schema_editor):
    from ispdesk.messaging.message_templates import install_default_templates

    install_default_templates(
        apps.get_model("messaging", "MessageTemplate"), using=schema_editor.connection.alias
    )


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0001_initial"),
    ]

    operations = [
        # Reversing keeps the rows: an admin's edits are not ours to delete.
        migrations.RunPython(install_defaults, migrations.RunPython.noop, elidable=False),
    ]
