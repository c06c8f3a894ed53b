"""ASGI entry point: Django for HTTP (WhatsApp webhook POSTs on a fast path), Channels for
the websocket at /ws/."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ispdesk.settings")

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application

django_application = get_asgi_application()

from ispdesk.lib.calendar import preload_holidays  # noqa: E402
from ispdesk.lib.heap import settle  # noqa: E402
from ispdesk.messaging.webhook_asgi import WebhookFastPath  # noqa: E402
from ispdesk.realtime.routing import websocket_urlpatterns  # noqa: E402

# Each web worker, as it starts: a console's first hello reads the business calendar.
preload_holidays()

application = ProtocolTypeRouter(
    {
        # Gateways' webhook POSTs skip Django's middleware (see `messaging.webhook_asgi`).
        "http": WebhookFastPath(django_application),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)

# Last: what was loaded to get here stays for the process's life (`lib.heap`).
settle()
