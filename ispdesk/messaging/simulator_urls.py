from django.urls import path

from ispdesk.messaging import simulator_views

urlpatterns = [
    path("", simulator_views.simulator_page, name="simulator"),
    path("send/", simulator_views.simulator_send, name="simulator_send"),
]
