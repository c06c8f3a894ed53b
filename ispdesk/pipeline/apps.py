from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PipelineConfig(AppConfig):
    name = "ispdesk.pipeline"
    label = "pipeline"
    verbose_name = _("Ticket pipeline")

    def ready(self) -> None:
        # The ticket page links to the ticket in Splynx without the tickets app importing us.
        from ispdesk.pipeline.links import splynx_ticket_url
        from ispdesk.tickets.views import register_mirror_link

        register_mirror_link(splynx_ticket_url)
