from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class OperatorsConfig(AppConfig):
    name = "ispdesk.operators"
    label = "operators"
    verbose_name = _("Team")

    def ready(self) -> None:
        post_migrate.connect(_restore_triggers, sender=self)


def _restore_triggers(sender: AppConfig, using: str, **kwargs: Any) -> None:
    """After `migrate`: put back the triggers a later migration lost (`lib.dbtriggers`)."""
    from django.db import connections

    from ispdesk.operators import stamp

    stamp.restore(connections[using])
