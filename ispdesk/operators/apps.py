from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OperatorsConfig(AppConfig):
    name = "ispdesk.operators"
    label = "operators"
    verbose_name = _("Team")

    def ready(self) -> None:
        from ispdesk.lib import dbtriggers
        from ispdesk.operators import stamp

        # Put back the team stamp's triggers a later migration lost.
        dbtriggers.after_migrate(self, stamp.restore)
