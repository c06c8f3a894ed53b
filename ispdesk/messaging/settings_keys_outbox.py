"""Business settings of the outbox sender: retries, backoff and the claim lease."""

from django.utils.translation import gettext_lazy as _

from ispdesk.system.config import ConfigKey, define

GROUP = _("WhatsApp sending")

OUTBOX_MAX_ATTEMPTS = define(
    ConfigKey(
        "outbox_max_attempts",
        "int",
        10,
        _(
            "Attempts to send a WhatsApp message through a failing gateway before it is marked "
            "failed (the first try counts)."
        ),
        group=GROUP,
        minimum=1,
        maximum=100,
    )
)
OUTBOX_BACKOFF_BASE_SECONDS = define(
    ConfigKey(
        "outbox_backoff_base_seconds",
        "int",
        10,
        _(
            "Seconds before the first retry of a failed send; each further retry waits twice "
            "as long."
        ),
        group=GROUP,
        minimum=1,
        maximum=3600,
    )
)
OUTBOX_BACKOFF_MAX_SECONDS = define(
    ConfigKey(
        "outbox_backoff_max_seconds",
        "int",
        3600,
        _("Longest wait between two attempts to send a message, in seconds."),
        group=GROUP,
        minimum=1,
        maximum=86400,
    )
)
OUTBOX_CLAIM_LEASE_SECONDS = define(
    ConfigKey(
        "outbox_claim_lease_seconds",
        "int",
        120,
        _(
            "Seconds a worker holds a message it is sending; if the worker dies, another one "
            "sends the message after this time. Keep it well above the gateway timeout (15 s), "
            "or a slow gateway may receive a message twice. From 80 s up, the sender claims "
            "several messages per database statement (below, one at a time: slower in a "
            "burst)."
        ),
        group=GROUP,
        minimum=2,
        maximum=3600,
    )
)
