from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "ispdesk.tickets"
    label = "tickets"
    verbose_name = _("Tickets")

    def ready(self) -> None:
        from ispdesk.lib import dbtriggers
        from ispdesk.tickets import loads, settings_keys  # noqa: F401

        # Put back the counting triggers a later migration lost.
        dbtriggers.after_migrate(self, loads.restore)
