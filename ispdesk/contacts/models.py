"""The people who write to the ISP: one row per customer phone, with their DNI and Splynx id."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ispdesk.operators.models import Area


class Contact(models.Model):
    name = models.CharField(_("name"), max_length=200)
    # E.164 after Argentine normalisation (`lib.phones.normalize_phone`); NULL when WhatsApp
    # only gave us an `@lid` alias. NULLs never collide in the unique index.
    phone = models.CharField(_("phone"), max_length=20, null=True, blank=True, unique=True)
    # The chat id WhatsApp uses for the phone (`5491122334455@s.whatsapp.net`) and the
    # privacy alias (`123456789@lid`) when the gateway reports one.
    wa_jid = models.CharField(_("WhatsApp id"), max_length=128, blank=True)
    lid = models.CharField(
        _("WhatsApp alias (@lid)"), max_length=64, null=True, blank=True, unique=True
    )
    dni = models.CharField(_("DNI"), max_length=10, blank=True, db_index=True)
    preferred_area = models.ForeignKey(
        Area,
        verbose_name=_("preferred area"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    splynx_customer_id = models.PositiveIntegerField(_("Splynx customer id"), null=True, blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self) -> str:
        return f"{self.name} ({self.phone or self.lid or '-'})"
