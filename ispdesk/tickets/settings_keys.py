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
define(
    ConfigKey(
        "ticket_alert_threshold_minutes",
        "int",
        45,
        _(
            "Minutes without any update after which an assigned ticket is overdue and its "
            "operator gets a WhatsApp alert."
        ),
        group=GROUP,
        minimum=1,
        maximum=10080,
    )
)
define(
    ConfigKey(
        "ticket_prealert_minutes",
        "int",
        15,
        _("Minutes before a ticket becomes overdue to warn its operator; 0 turns this off."),
        group=GROUP,
        minimum=0,
        maximum=10080,
    )
)
define(
    ConfigKey(
        "ticket_renotify_minutes",
        "int",
        60,
        _("Minutes before an operator is alerted again about the same overdue ticket."),
        group=GROUP,
        minimum=1,
        maximum=10080,
    )
)
define(
    ConfigKey(
        "shift_reminder_minutes",
        "int",
        60,
        _(
            "Minutes before an operator's work shift ends to send them a summary of their "
            "open tickets."
        ),
        group=GROUP,
        minimum=1,
        maximum=720,
    )
)
