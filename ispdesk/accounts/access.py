"""Fetching account objects for a user: lookup and permission together, 404 otherwise."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from ispdesk.accounts.models import ApiToken, User


def access_user_for_admin(actor: Any, user_id: int) -> User:
    if not getattr(actor, "is_admin", False):
        raise Http404
    try:
        return User.objects.get(pk=user_id)
    except User.DoesNotExist:
        raise Http404 from None


def access_own_token(actor: Any, token_id: int) -> ApiToken:
    """A person's own token; admins may also reach anyone's (to revoke a leaked one)."""
    tokens = ApiToken.objects.select_related("user")
    if not getattr(actor, "is_admin", False):
        tokens = tokens.filter(user=actor)
    try:
        return tokens.get(pk=token_id)
    except ApiToken.DoesNotExist:
        raise Http404 from None
