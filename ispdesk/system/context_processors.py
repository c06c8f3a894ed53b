from typing import Any

from django.http import HttpRequest

from ispdesk.system.config import get_config
from ispdesk.system.models import SystemState


def system(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"company_name": get_config("company_name")}
    return {
        "company_name": get_config("company_name"),
        "system_state": SystemState.objects.filter(pk=1).select_related("paused_by").first(),
    }
