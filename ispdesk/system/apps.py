from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SystemConfigApp(AppConfig):
    name = "ispdesk.system"
    label = "system"
    verbose_name = _("System")

    def ready(self) -> None:
        # Business settings of this app are defined at import time.
        from ispdesk.system import settings_keys  # noqa: F401
