"""Reopenings are stamped (so they can wait to reach Splynx), sync errors name their step,
and tickets sharing one Splynx ticket are untangled before 0006 makes the link unique.

Two local tickets could link one Splynx ticket (two cases with one subject adopting one
lost create). The link kept is the intrinsic one of a ticket imported from Splynx, or else
the oldest ticket's (lowest id); the others are unlinked with a note in their history, so
the ticket flow gives each of them its own Splynx ticket if it is still open.
"""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Count
from django.utils import timezone, translation
from django.utils.translation import gettext as _


def _keeper_first(tickets, splynx_id):
    # Imported from Splynx first (the link is what they are), then the oldest.
    return sorted(
        tickets,
        key=lambda t: (not (t.source == "splynx" and t.external_id == str(splynx_id)), t.pk),
    )


def unlink_duplicates(apps, schema_editor):
    Ticket = apps.get_model("tickets", "Ticket")
    TicketEvent = apps.get_model("tickets", "TicketEvent")
    shared = list(
        Ticket.objects.filter(splynx_ticket_id__isnull=False)
        .values("splynx_ticket_id")
        .annotate(links=Count("pk"))
        .filter(links__gt=1)
        .order_by("splynx_ticket_id")
        .values_list("splynx_ticket_id", flat=True)
    )
    if not shared:
        return
    now = timezone.now()
    # History is read in the installation's language; migrate runs without one.
    with translation.override(settings.LANGUAGE_CODE):
        for splynx_id in shared:
            linked = Ticket.objects.filter(splynx_ticket_id=splynx_id)
            keeper, *others = _keeper_first(list(linked), splynx_id)
            for ticket in others:
                Ticket.objects.filter(pk=ticket.pk).update(
                    splynx_ticket_id=None,
                    splynx_assigned_to=None,
                    splynx_synced_at=None,
                    splynx_create_started_at=None,
                    splynx_error="",
                    splynx_held=False,
                    splynx_assigned_name="",
                )
                text = _(
                    "Unlinked from Splynx ticket %(id)s: ticket #%(other)s was linked to it "
                    "as well and keeps it."
                ) % {"id": splynx_id, "other": keeper.pk}
                TicketEvent.objects.create(
                    ticket_id=ticket.pk, kind="synced", created_at=now, text=text
                )


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0004_splynx_held"),
    ]

    operations = [
        migrations.AddField(
            model_name="ticket",
            name="reopened_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="reopened"),
        ),
        migrations.AddField(
            model_name="ticket",
            name="splynx_error_step",
            field=models.CharField(blank=True, max_length=16),
        ),
        migrations.RunPython(unlink_duplicates, migrations.RunPython.noop),
    ]
