from django.urls import path

from ispdesk.system import views

urlpatterns = [
    path("settings/", views.settings_page, name="settings"),
    path("system/pause/", views.system_pause, name="system_pause"),
    path("system/resume/", views.system_resume, name="system_resume"),
    path("system/banner/", views.system_banner, name="system_banner"),
    path("audit/", views.audit, name="audit"),
]
