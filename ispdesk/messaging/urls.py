from django.urls import path

from ispdesk.messaging import views

urlpatterns = [
    path("", views.connections, name="connections"),
    path("connections/new/", views.connection_create, name="connection_create"),
    path("connections/test/", views.connection_test, name="connection_test_new"),
    path("connections/<int:connection_id>/", views.connection_detail, name="connection_detail"),
    path("connections/<int:connection_id>/test/", views.connection_test, name="connection_test"),
    path(
        "connections/<int:connection_id>/session/<str:action>/",
        views.connection_session,
        name="connection_session",
    ),
    path(
        "connections/<int:connection_id>/default/",
        views.connection_default,
        name="connection_default",
    ),
    path(
        "connections/<int:connection_id>/delete/", views.connection_delete, name="connection_delete"
    ),
]
