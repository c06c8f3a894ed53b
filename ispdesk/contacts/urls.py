from django.urls import path

from ispdesk.contacts import views

# Mounted at /contacts/.
urlpatterns = [
    path("", views.contacts, name="contacts"),
    path("new/", views.contact_create, name="contact_create"),
    path("import/", views.contact_import, name="contact_import"),
    path("import/cancel/", views.contact_import_cancel, name="contact_import_cancel"),
    path("<int:contact_id>/", views.contact_edit, name="contact_edit"),
    path("<int:contact_id>/delete/", views.contact_delete, name="contact_delete"),
]
