"""Accounts API: login/logout/me, users (admin), personal API tokens."""

from __future__ import annotations

from django.contrib.auth import authenticate, login, logout
from django.middleware.csrf import get_token
from django.utils.translation import gettext as _
from ninja import Router, Status

from ispdesk.accounts.access import access_own_token, access_user_for_admin
from ispdesk.accounts.actions import (
    UserChangeError,
    do_create_token,
    do_create_user,
    do_revoke_token,
    do_update_user,
)
from ispdesk.accounts.auth import ApiRequest
from ispdesk.accounts.models import ApiToken, User
from ispdesk.accounts.permissions import api_require_admin, api_require_supervisor
from ispdesk.accounts.schemas import (
    LoginIn,
    NewTokenOut,
    TokenIn,
    TokenOut,
    UserCreateIn,
    UserOut,
    UserUpdateIn,
)
from ispdesk.api_errors import ApiError
from ispdesk.system.audit import record_audit

router = Router(tags=["auth"])
users_router = Router(tags=["users"])


def _client_ip(request: ApiRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


@router.post("/login", auth=None, response=UserOut)
def api_login(request: ApiRequest, payload: LoginIn) -> User:
    # Login has no CSRF token to check (there is no session yet). Requiring a JSON content
    # type closes login CSRF instead: a cross-site form cannot send one without CORS consent.
    if request.content_type != "application/json":
        raise ApiError(
            415, "unsupported_media_type", _("Send the credentials as application/json.")
        )
    user = authenticate(request, username=payload.username, password=payload.password)
    if getattr(request, "axes_locked_out", False):
        # Answer in the API's error shape: left set, the flag makes AxesMiddleware replace
        # this response with its HTML lockout page.
        request.axes_locked_out = False  # type: ignore[attr-defined]
        raise ApiError(
            429,
            "locked_out",
            _("Too many failed logins: this account is locked for a while. Try again later."),
        )
    if user is None or not user.is_active:
        raise ApiError(401, "invalid_credentials", _("Wrong username or password."))
    login(request, user)
    get_token(request)  # so the client receives a CSRF cookie for later writes
    record_audit(user, "user.login", user, ip_address=_client_ip(request))
    return user


@router.post("/logout", response={204: None})
def api_logout(request: ApiRequest) -> Status:
    record_audit(request.auth, "user.logout", request.auth, ip_address=_client_ip(request))
    logout(request)
    return Status(204, None)


@router.get("/me", response=UserOut)
def api_me(request: ApiRequest) -> User:
    return request.auth


def _user_error(exc: UserChangeError) -> ApiError:
    status = 409 if exc.code in ("username_taken", "last_admin") else 422
    return ApiError(status, exc.code, exc.message, exc.fields)


@users_router.get("", response=list[UserOut])
def list_users(request: ApiRequest) -> list[User]:
    api_require_supervisor(request.auth)
    return list(User.objects.order_by("username"))


@users_router.post("", response={201: UserOut})
def create_user(request: ApiRequest, payload: UserCreateIn) -> Status:
    api_require_admin(request.auth)
    try:
        user = do_create_user(request.auth, **payload.dict())
    except UserChangeError as exc:
        raise _user_error(exc) from None
    return Status(201, user)


@users_router.put("/{user_id}", response=UserOut)
def update_user(request: ApiRequest, user_id: int, payload: UserUpdateIn) -> User:
    api_require_admin(request.auth)
    user = access_user_for_admin(request.auth, user_id)
    # A null means "leave as is", like a missing field: no column here may be set to null.
    changes = payload.dict(exclude_unset=True, exclude_none=True)
    try:
        return do_update_user(request.auth, user, changes)
    except UserChangeError as exc:
        raise _user_error(exc) from None


def _token_out(token: ApiToken) -> dict:
    return {
        "id": token.pk,
        "name": token.name,
        "prefix": token.prefix,
        "username": token.user.username,
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    }


@router.get("/tokens", response=list[TokenOut])
def list_tokens(request: ApiRequest) -> list[dict]:
    tokens = ApiToken.objects.filter(user=request.auth).select_related("user")
    return [_token_out(token) for token in tokens]


@router.post("/tokens", response={201: NewTokenOut})
def create_token(request: ApiRequest, payload: TokenIn) -> Status:
    new = do_create_token(request.auth, request.auth, payload.name)
    return Status(201, {**_token_out(new.token), "token": new.secret})


@router.delete("/tokens/{token_id}", response=TokenOut)
def revoke_token(request: ApiRequest, token_id: int) -> dict:
    token = access_own_token(request.auth, token_id)
    return _token_out(do_revoke_token(request.auth, token))
