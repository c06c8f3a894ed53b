from django.urls import path

from ispdesk.messaging import template_views as views

urlpatterns = [
    path("", views.template_list, name="message_templates"),
    path("<str:key>/<str:language>/", views.template_edit, name="message_template_edit"),
    path(
        "<str:key>/<str:language>/preview/",
        views.template_preview,
        name="message_template_preview",
    ),
    path(
        "<str:key>/<str:language>/restore/",
        views.template_restore,
        name="message_template_restore",
    ),
]
