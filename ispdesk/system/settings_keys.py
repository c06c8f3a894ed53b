"""Business settings owned by the system app."""

from urllib.parse import urlsplit

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ispdesk.system.config import ConfigKey, define


def web_address(value: str) -> str:
    """An address people open in a browser, e.g. https://desk.example.com/, stored without its
    trailing slash so that paths can be appended. Raises ValueError with the reason."""
    unprintable = any(char.isspace() or not char.isprintable() for char in value)
    if unprintable or "?" in value or "#" in value:
        raise ValueError(_web_address_expected())
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise ValueError(_web_address_expected()) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(_web_address_expected())
    # A password would be sent in every message that carries a link.
    if "@" in parts.netloc:
        raise ValueError(gettext("must not contain a user name or password"))
    return value.rstrip("/")


def _web_address_expected() -> str:
    return gettext(
        "expected an http:// or https:// address with a host name, such as "
        "https://desk.example.com, without ? or #"
    )


COMPANY_NAME = define(
    ConfigKey(
        "company_name",
        "str",
        "ispdesk",
        _("Name of the ISP, shown in the page header."),
        group=_("General"),
        max_length=80,
    )
)
PUBLIC_URL = define(
    ConfigKey(
        "public_url",
        "str",
        "",
        _(
            "The address people open ispdesk at, e.g. https://desk.example.com; links in "
            "WhatsApp messages use it. While it is empty, messages sent by background jobs "
            "carry only the path (/tickets/12/), which does not open on a phone."
        ),
        group=_("General"),
        max_length=200,
        clean=web_address,
    )
)
JOB_RUN_RETENTION_DAYS = define(
    ConfigKey(
        "job_run_retention_days",
        "int",
        30,
        _("Days to keep the history of background job runs."),
        group=_("Housekeeping"),
        minimum=1,
        maximum=3650,
    )
)
AUDIT_RETENTION_DAYS = define(
    ConfigKey(
        "audit_retention_days",
        "int",
        365,
        _("Days to keep audit log entries."),
        group=_("Housekeeping"),
        minimum=30,
        maximum=3650,
    )
)
