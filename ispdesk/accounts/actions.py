"""State changes on users and API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from ispdesk.accounts.models import ApiToken, Role, User, clean_page_permissions, hash_token
from ispdesk.system.audit import record_audit


class UserChangeError(ValueError):
    """A user change was refused; `fields` names what was wrong."""

    def __init__(self, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        self.code = code
        self.message = message
        self.fields = fields or {}
        super().__init__(message)


USER_FIELDS = (
    "username",
    "first_name",
    "last_name",
    "email",
    "role",
    "page_permissions",
    "is_active",
)


def user_snapshot(user: User) -> dict[str, Any]:
    return {name: getattr(user, name) for name in USER_FIELDS}


def _check_password(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise UserChangeError(
            "invalid_password", " ".join(exc.messages), {"password": " ".join(exc.messages)}
        ) from None


def _clean_permissions(values: list[str]) -> list[str]:
    try:
        return clean_page_permissions(values)
    except ValueError as exc:
        raise UserChangeError(
            "validation_error", str(exc), {"page_permissions": str(exc)}
        ) from None


def do_create_user(actor: Any, *, username: str, password: str, **fields: Any) -> User:
    username = username.strip()
    if not username:
        raise UserChangeError(
            "validation_error", _("A username is required."), {"username": _("required")}
        )
    if User.objects.filter(username__iexact=username).exists():
        raise UserChangeError(
            "username_taken",
            _("The username %(name)s is already taken.") % {"name": username},
            {"username": _("already taken")},
        )
    if "page_permissions" in fields:
        fields["page_permissions"] = _clean_permissions(fields["page_permissions"])
    user = User(username=username, **fields)
    _check_password(password, user)
    user.set_password(password)
    with transaction.atomic():
        user.save()
        record_audit(actor, "user.created", user, after=user_snapshot(user))
    return user


def _would_remove_last_admin(user: User, changes: dict[str, Any]) -> bool:
    if not user.is_admin:
        return False
    stays_admin = changes.get("role", user.role) == Role.ADMIN and changes.get(
        "is_active", user.is_active
    )
    if stays_admin:
        return False
    return not _active_admins().exclude(pk=user.pk).exists()


def _active_admins() -> QuerySet[User]:
    return User.objects.filter(role=Role.ADMIN, is_active=True)


def do_update_user(actor: Any, user: User, changes: dict[str, Any]) -> User:
    """Apply changes (and a new password when given); refuse to remove the last admin."""
    password = changes.pop("password", None)
    if "page_permissions" in changes:
        changes["page_permissions"] = _clean_permissions(changes["page_permissions"])
    if "username" in changes:
        changes["username"] = changes["username"].strip()
        clash = User.objects.filter(username__iexact=changes["username"]).exclude(pk=user.pk)
        if not changes["username"] or clash.exists():
            raise UserChangeError(
                "username_taken",
                _("The username %(name)s is already taken.") % {"name": changes["username"]},
                {"username": _("already taken")},
            )
    with transaction.atomic():
        # Lock the active admins first, always in one order: two admins demoting each other
        # at once then take turns (instead of both seeing the other remain, or deadlocking).
        list(_active_admins().select_for_update().order_by("pk").values_list("pk", flat=True))
        locked = User.objects.select_for_update().get(pk=user.pk)
        if _would_remove_last_admin(locked, changes):
            raise UserChangeError(
                "last_admin",
                _("This is the last active administrator; make someone else admin first."),
                {"role": _("last administrator")},
            )
        before = user_snapshot(locked)
        for name, value in changes.items():
            setattr(locked, name, value)
        if password:
            _check_password(password, locked)
            locked.set_password(password)
        locked.save()
        after = user_snapshot(locked)
        if password:
            after["password"] = "changed"  # noqa: S105 - a marker, not a secret
        record_audit(actor, "user.updated", locked, before=before, after=after)
    return locked


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str


def do_create_token(actor: Any, user: User, name: str) -> NewToken:
    """Create a token; the secret is returned once and only its hash is stored."""
    name = name.strip()[:100] or _("API token")
    secret = ApiToken.generate()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name, prefix=secret[:10], token_hash=hash_token(secret)
        )
        record_audit(actor, "token.created", token, after={"user": user.username, "name": name})
    return NewToken(token=token, secret=secret)


def do_revoke_token(actor: Any, token: ApiToken) -> ApiToken:
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            record_audit(actor, "token.revoked", token, after={"user": token.user.username})
    return token
