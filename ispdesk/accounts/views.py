"""Account pages: login/logout, home, users (admin) and personal API tokens."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ispdesk.accounts.access import access_own_token, access_user_for_admin
from ispdesk.accounts.actions import (
    UserChangeError,
    do_create_token,
    do_create_user,
    do_revoke_token,
    do_update_user,
)
from ispdesk.accounts.decorators import AuthenticatedRequest, admin_required, supervisor_required
from ispdesk.accounts.forms import TokenForm, UserForm
from ispdesk.accounts.models import ApiToken, PagePermission, User
from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.system.audit import record_audit


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


class LoginPage(LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        user = form.get_user()
        record_audit(user, "user.login", user, ip_address=_client_ip(self.request))
        return response


@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        record_audit(request.user, "user.logout", request.user, ip_address=_client_ip(request))
    logout(request)
    return redirect("login")


@login_required
def home(request: AuthenticatedRequest) -> HttpResponse:
    context: dict[str, Any] = {}
    if request.user.is_admin:
        context["failing_jobs"] = list(
            JobSchedule.objects.filter(last_outcome=JobRun.Outcome.ERROR).order_by("name")
        )
    return render(request, "home.html", context)


# Users --------------------------------------------------------------------------------------


@supervisor_required
def users(request: AuthenticatedRequest) -> HttpResponse:
    labels = dict(PagePermission.choices)
    rows = [
        {"user": user, "pages": [labels.get(value, value) for value in user.page_permissions or []]}
        for user in User.objects.order_by("username")
    ]
    return render(request, "accounts/users.html", {"rows": rows})


@admin_required
def user_create(request: AuthenticatedRequest) -> HttpResponse:
    form = UserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = do_create_user(request.user, **form.values())
        except UserChangeError as exc:
            form.add_change_error(exc)
        else:
            messages.success(request, _("User %(name)s created.") % {"name": user.username})
            return redirect("users")
    status = 422 if form.errors else 200
    return render(request, "accounts/user_form.html", {"form": form}, status=status)


@admin_required
def user_edit(request: AuthenticatedRequest, user_id: int) -> HttpResponse:
    user = access_user_for_admin(request.user, user_id)
    form = UserForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            user = do_update_user(request.user, user, form.values())
        except UserChangeError as exc:
            form.add_change_error(exc)
        else:
            messages.success(request, _("User %(name)s saved.") % {"name": user.username})
            return redirect("users")
    status = 422 if form.errors else 200
    context = {"form": form, "edited": user}
    return render(request, "accounts/user_form.html", context, status=status)


# API tokens ---------------------------------------------------------------------------------


@login_required
def tokens(request: AuthenticatedRequest) -> HttpResponse:
    """List the person's own tokens; a POST creates one and shows its secret in this answer only."""
    form = TokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        new_token = do_create_token(request.user, request.user, form.cleaned_data["name"])
        form = TokenForm()
    context = {
        "form": form,
        "new_token": new_token,
        "tokens": ApiToken.objects.filter(user=request.user).order_by("-created_at", "-id"),
    }
    response = render(request, "accounts/tokens.html", context, status=422 if form.errors else 200)
    if new_token is not None:
        # The secret must not be kept by the browser's or a proxy's cache.
        add_never_cache_headers(response)
    return response


@require_POST
@login_required
def token_revoke(request: AuthenticatedRequest, token_id: int) -> HttpResponse:
    token = access_own_token(request.user, token_id)
    do_revoke_token(request.user, token)
    messages.success(request, _("Token %(name)s revoked.") % {"name": token.name})
    return redirect("tokens")
