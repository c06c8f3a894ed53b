"""Demo data of the messaging app: the WhatsApp simulator, switched on, as the connection.

Idempotent; `ispdesk.demo.load_demo_data` calls it.
"""

from __future__ import annotations

from django.db import transaction

from ispdesk.messaging.models import GatewayConnection, GatewayKind
from ispdesk.messaging.simulator import simulator_connection
from ispdesk.system.actions import do_set_config


def load_messaging_demo() -> GatewayConnection:
    with transaction.atomic():
        do_set_config(None, {"simulator_enabled": True})
        # A disabled simulator left by an earlier run is switched back on.
        GatewayConnection.objects.filter(kind=GatewayKind.SIMULATOR, enabled=False).update(
            enabled=True
        )
        connection = simulator_connection()
        # The demo's only number: operator alerts and customer chats go through it.
        if not GatewayConnection.objects.filter(is_default=True, enabled=True).exists():
            GatewayConnection.objects.filter(pk=connection.pk).update(is_default=True)
            connection.is_default = True
    return connection
