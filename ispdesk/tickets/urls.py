from django.urls import path

from ispdesk.tickets import views

urlpatterns = [
    path("tickets/", views.ticket_queue, name="ticket_queue"),
    path("tickets/mine/", views.my_tickets, name="my_tickets"),
    path("tickets/new/", views.ticket_create, name="ticket_create"),
    path(
        "tickets/assign-unassigned/",
        views.ticket_assign_unassigned,
        name="ticket_assign_unassigned",
    ),
    path("tickets/<int:ticket_id>/", views.ticket_detail, name="ticket_detail"),
    path("tickets/<int:ticket_id>/comment/", views.ticket_comment, name="ticket_comment"),
    path("tickets/<int:ticket_id>/status/", views.ticket_status, name="ticket_status"),
    path("tickets/<int:ticket_id>/close/", views.ticket_close, name="ticket_close"),
    path("tickets/<int:ticket_id>/reopen/", views.ticket_reopen, name="ticket_reopen"),
    path("tickets/<int:ticket_id>/assign/", views.ticket_assign, name="ticket_assign"),
    path("tickets/<int:ticket_id>/unassign/", views.ticket_unassign, name="ticket_unassign"),
]
