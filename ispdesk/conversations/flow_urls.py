from django.urls import URLPattern, path

from ispdesk.conversations import flow_views

urlpatterns: list[URLPattern] = [
    path("", flow_views.flows, name="flows"),
    path("new/", flow_views.flow_create, name="flow_create"),
    path("<int:flow_id>/", flow_views.flow_edit, name="flow_edit"),
    path("<int:flow_id>/delete/", flow_views.flow_delete, name="flow_delete"),
]
