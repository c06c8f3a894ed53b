"""Business settings of ticket assignment and response times."""

from django.utils.translation import gettext_lazy as _

from ispdesk.system.config import ConfigKey, define

GROUP = _("Tickets")

define(
    ConfigKey(
        "assignment_use_on_duty",
        "bool",
        True,
        _("On weekends and holidays, give new tickets to the on-duty operator(s)."),
        group=GROUP,
    )
)
define(
    ConfigKey(
        "assignment_use_shift_tags",
        "bool",
        True,
        _("Send tickets whose text has a shift tag ([TT], [TD]) to that tag's group."),
        group=GROUP,
    )
)
define(
    ConfigKey(
        "assignment_round_robin_fallback",
        "bool",
        True,
        _("When nobody is on the assignment schedule, rotate among active unpaused operators."),
        group=GROUP,
    )
)
define(
    ConfigKey(
        "ticket_overdue_minutes",
        "int",
        60,
        _("Minutes without a first response after which a ticket is overdue."),
        group=GROUP,
        minimum=1,
        maximum=10080,
    )
)
