"""The agent console, mounted at /desk/."""

from django.urls import URLPattern, path

from ispdesk.conversations import views

urlpatterns: list[URLPattern] = [
    path("", views.desk_page, name="desk"),
    path("list/", views.desk_list, name="desk_list"),
    path("away/", views.desk_away, name="desk_away"),
    path("c/<int:pk>/", views.desk_chat, name="desk_chat"),
    path("c/<int:pk>/messages/", views.desk_messages, name="desk_messages"),
    path("c/<int:pk>/send/", views.desk_send, name="desk_send"),
    path("c/<int:pk>/targets/", views.desk_targets, name="desk_targets"),
    path("c/<int:pk>/transfer/", views.desk_transfer, name="desk_transfer"),
    path("c/<int:pk>/assign/", views.desk_assign, name="desk_assign"),
    path("c/<int:pk>/close/", views.desk_close, name="desk_close"),
]
