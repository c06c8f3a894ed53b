from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConversationsConfig(AppConfig):
    name = "ispdesk.conversations"
    label = "conversations"
    verbose_name = _("Conversations")

    def ready(self) -> None:
        # Settings keys register at import; inbound customer messages are handed to the desk;
        # pages may join `area.<id>` and `conversation.<id>` groups they are entitled to.
        from ispdesk.conversations import settings_keys  # noqa: F401
        from ispdesk.conversations.wiring import connect

        connect()
