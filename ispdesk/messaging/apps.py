from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "ispdesk.messaging"
    label = "messaging"
    verbose_name = _("WhatsApp messaging")

    def ready(self) -> None:
        # Business settings of this app are defined at import time; the simulator's realtime
        # group is offered to pages through the consumer's subscription registry.
        from ispdesk.messaging import (
            settings_keys,  # noqa: F401
            settings_keys_outbox,  # noqa: F401
        )
        from ispdesk.messaging.simulator import register_simulator_subscription

        register_simulator_subscription()

        # A connection saved or deleted here is forgotten by the webhook's cache at once.
        from django.db.models.signals import post_delete, post_save

        from ispdesk.messaging.models import GatewayConnection
        from ispdesk.messaging.webhooks import forget_connections

        post_save.connect(forget_connections, sender=GatewayConnection, weak=False)
        post_delete.connect(forget_connections, sender=GatewayConnection, weak=False)

        # Put back the trigger that wakes the hand-over loops, should a migration lose it.
        from ispdesk.lib import dbtriggers
        from ispdesk.messaging import stored_wakeup

        dbtriggers.after_migrate(self, stored_wakeup.restore)
