from django.urls import URLPattern, path

from ispdesk.pipeline import (
    gestionreal_views,
    splynx_views,
    ticket_hook_views,
    views,
    web_export_views,
)
from ispdesk.pipeline.overview import pipeline_overview

urlpatterns: list[URLPattern] = [
    path("", views.integrations, name="integrations"),
    path("pipeline/", pipeline_overview, name="pipeline_overview"),
    path(
        "ticket-webhook/",
        ticket_hook_views.ticket_hook_settings,
        name="integration_ticket_hook",
    ),
    path(
        "ticket-webhook/rotate/",
        ticket_hook_views.ticket_hook_rotate,
        name="integration_ticket_hook_rotate",
    ),
    path("gestionreal/", gestionreal_views.integration_gestionreal, name="integration_gestionreal"),
    path(
        "gestionreal/test/",
        gestionreal_views.integration_gestionreal_test,
        name="integration_gestionreal_test",
    ),
    path(
        "gestionreal/web-export/",
        web_export_views.integration_gestionreal_web_export,
        name="integration_gestionreal_web_export",
    ),
    path("csv/", gestionreal_views.csv_import, name="csv_import"),
    path("csv/cancel/", gestionreal_views.csv_import_cancel, name="csv_import_cancel"),
    path("splynx/", splynx_views.integration_splynx, name="integration_splynx"),
    path("splynx/test/", splynx_views.integration_splynx_test, name="integration_splynx_test"),
    path(
        "splynx/mappings/",
        splynx_views.integration_splynx_mappings,
        name="integration_splynx_mappings",
    ),
]
