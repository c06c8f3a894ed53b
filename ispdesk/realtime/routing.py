from django.urls import path

from ispdesk.realtime.consumers import EventsConsumer

websocket_urlpatterns = [path("ws/", EventsConsumer.as_asgi())]
