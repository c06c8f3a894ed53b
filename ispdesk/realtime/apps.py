from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "ispdesk.realtime"
    label = "realtime"
