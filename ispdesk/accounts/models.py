"""Users, their roles and page permissions, and personal API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    SUPERVISOR = "supervisor", _("Supervisor")
    OPERATOR = "operator", _("Operator")


class PagePermission(models.TextChoices):
    """Page permissions carried over from the earlier system."""

    OPERATOR_VIEW = "operator_view", _("Operator view")
    DEVICE_ANALYSIS = "device_analysis", _("Device analysis")
    NOC_DASHBOARD = "noc_dashboard", _("NOC dashboard")
    NOC_CONTROL = "noc_control", _("NOC control")


def clean_page_permissions(values: list[str]) -> list[str]:
    """Return the known permissions in a stable order; raise ValueError naming unknown ones."""
    known = set(PagePermission.values)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(_("Unknown page permission(s): %(names)s") % {"names": ", ".join(unknown)})
    return [value for value in PagePermission.values if value in values]


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.OPERATOR)
    page_permissions = models.JSONField(_("page permissions"), default=list, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]

    @property
    def is_admin(self) -> bool:
        return self.is_active and (self.role == Role.ADMIN or self.is_superuser)

    @property
    def is_supervisor_or_admin(self) -> bool:
        return self.is_admin or (self.is_active and self.role == Role.SUPERVISOR)

    def has_page(self, permission: str) -> bool:
        """Admins may open every page; others need the page permission."""
        if not self.is_active:
            return False
        return self.is_admin or permission in (self.page_permissions or [])

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    @property
    def realtime_groups(self) -> list[str]:
        return [f"user.{self.pk}", f"role.{self.role}"]


TOKEN_PREFIX = "isp_"  # noqa: S105 - a public prefix


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough: no dictionary to attack.
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100)
    # The first characters, shown in lists so a person can tell tokens apart.
    prefix = models.CharField(max_length=12)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def generate() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
