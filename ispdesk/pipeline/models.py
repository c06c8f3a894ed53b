"""The ticket pipeline's external systems: Splynx, Gestión Real and the inbound ticket hook.

One row per system holds its settings: `config` the ordinary ones (returned by the API),
`secrets` the credentials (write-only: never returned, shown or logged). A secret is only
sent to the base URL it was saved for (changing the URL asks for it again).
"""

from __future__ import annotations

import secrets as secrets_module

from django.db import models
from django.utils.translation import gettext_lazy as _


def new_hook_secret() -> str:
    return secrets_module.token_urlsafe(32)


class SystemKind(models.TextChoices):
    SPLYNX = "splynx", "Splynx"
    GESTIONREAL = "gestionreal", "Gestión Real"
    TICKET_HOOK = "ticket_hook", _("Inbound ticket webhook")


class ExternalSystem(models.Model):
    kind = models.CharField(_("system"), max_length=16, choices=SystemKind.choices, unique=True)
    enabled = models.BooleanField(_("enabled"), default=False)
    config = models.JSONField(default=dict, blank=True)
    secrets = models.JSONField(default=dict, blank=True)
    # The secret in the inbound hook's URL (`/hooks/tickets/<secret>/`).
    hook_secret = models.CharField(max_length=64, unique=True, default=new_hook_secret)
    # The outcome of the last "test connection", for the settings page.
    last_test_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True, blank=True)
    last_test_detail = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind"]
        verbose_name = _("external system")
        verbose_name_plural = _("external systems")

    def __str__(self) -> str:
        return self.get_kind_display()
