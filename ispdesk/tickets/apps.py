from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "ispdesk.tickets"
    label = "tickets"
    verbose_name = _("Tickets")

    def ready(self) -> None:
        post_migrate.connect(_restore_triggers, sender=self)
        from ispdesk.tickets import settings_keys  # noqa: F401


def _restore_triggers(sender: AppConfig, using: str, **kwargs: Any) -> None:
    """After `migrate`: put back the triggers a later migration lost (`lib.dbtriggers`)."""
    from django.db import connections

    from ispdesk.tickets import loads

    loads.restore(connections[using])
