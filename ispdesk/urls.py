from django.urls import include, path, re_path

from ispdesk.api import api
from ispdesk.api_errors import error_response
from ispdesk.system import health


def api_not_found(request, rest: str = ""):  # type: ignore[no-untyped-def]
    return error_response(404, "not_found", "Unknown API route.")


urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("ispdesk.accounts.urls")),
    path("", include("ispdesk.system.urls")),
    path("", include("ispdesk.jobs.urls")),
]
