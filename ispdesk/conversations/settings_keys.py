"""Business settings owned by the service desk."""

from django.utils.translation import gettext_lazy as _

from ispdesk.system.config import ConfigKey, define

AUTO_CLOSE_MINUTES = define(
    ConfigKey(
        "auto_close_minutes",
        "int",
        120,
        _(
            "Close a chat after this many minutes without messages, sending the auto-close "
            "message (0 = never). An area can override it. A chat whose last message is the "
            "customer's, still unanswered by a person, is never closed this way."
        ),
        group=_("Service desk"),
        minimum=0,
        maximum=60 * 24 * 30,
    )
)

TELL_QUEUE_POSITION = define(
    ConfigKey(
        "tell_queue_position",
        "bool",
        True,
        _("Tell a customer waiting for an operator their place in the queue."),
        group=_("Service desk"),
    )
)
