from django.urls import URLPattern, path, re_path

from ispdesk.pipeline.ticket_hook_views import ticket_hook, ticket_hook_close

urlpatterns: list[URLPattern] = [
    path("tickets/<str:secret>/", ticket_hook, name="ticket_hook"),
    path("tickets/<str:secret>/close/", ticket_hook_close, name="ticket_hook_close"),
    # Without the final slash too: a redirect would lose the POST (senders don't follow one).
    re_path(r"^tickets/(?P<secret>[A-Za-z0-9_-]+)$", ticket_hook),
    re_path(r"^tickets/(?P<secret>[A-Za-z0-9_-]+)/close$", ticket_hook_close),
]
