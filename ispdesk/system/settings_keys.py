"""Business settings owned by the system app."""

from django.utils.translation import gettext_lazy as _

from ispdesk.system.config import ConfigKey, define

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
