from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from ispdesk.api import api
from ispdesk.api_errors import error_response
from ispdesk.system import health


@csrf_exempt  # an unknown route is a 404 whatever the method; there is nothing to protect
def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    return error_response(404, "not_found", _("Unknown API route."))


urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
    path("i18n/", include("django.conf.urls.i18n")),
    path("hooks/", include("ispdesk.messaging.hooks_urls")),
    path("hooks/", include("ispdesk.pipeline.hooks_urls")),
    path("simulator/", include("ispdesk.messaging.simulator_urls")),
    path("", include("ispdesk.accounts.urls")),
    path("", include("ispdesk.system.urls")),
    path("", include("ispdesk.jobs.urls")),
    path("", include("ispdesk.tickets.urls")),
    path("", include("ispdesk.operators.urls")),
    path("whatsapp/", include("ispdesk.messaging.urls")),
    path("templates/", include("ispdesk.messaging.template_urls")),
    path("contacts/", include("ispdesk.contacts.urls")),
    path("flows/", include("ispdesk.conversations.flow_urls")),
    path("desk/", include("ispdesk.conversations.urls")),
    path("integrations/", include("ispdesk.pipeline.urls")),
]
