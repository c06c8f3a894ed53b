from django.urls import path, re_path

from ispdesk.messaging.webhooks import whatsapp_webhook

urlpatterns = [
    path("whatsapp/<str:secret>/", whatsapp_webhook, name="whatsapp_webhook"),
    # Tolerated too, so no delivery is lost to a redirect (gateways do not follow one for a
    # POST): the URL without its final slash, and Evolution's `byEvents: true`, which appends
    # the event name (`/messages-upsert`).
    re_path(
        r"^whatsapp/(?P<secret>[A-Za-z0-9_-]+)(?:/(?P<event>[a-z][a-z0-9._-]{0,60}))?/?$",
        whatsapp_webhook,
    ),
]
