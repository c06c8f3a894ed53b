"""Business settings owned by the messaging app."""

from django.utils.translation import gettext_lazy as _

from ispdesk.system.config import ConfigKey, define

SIMULATOR_ENABLED = define(
    ConfigKey(
        "simulator_enabled",
        "bool",
        False,
        _(
            "Offer the WhatsApp simulator at /simulator/, where staff play a customer's phone. "
            "Always on in demo mode; keep it off in production unless you are testing."
        ),
        group=_("WhatsApp"),
    )
)
