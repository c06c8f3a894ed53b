from django.urls import path

from ispdesk.jobs import views

urlpatterns = [
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/<str:name>/run/", views.job_run, name="job_run"),
    path("jobs/<str:name>/", views.job_update, name="job_update"),
]
