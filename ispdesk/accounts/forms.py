"""Forms of the account pages: users (admin) and personal API tokens."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from ispdesk.accounts.actions import UserChangeError
from ispdesk.accounts.models import PagePermission, Role, User

# The login page's error comes from Django's AuthenticationForm; naming its text here puts it
# in our catalog, whose es-AR wording (voseo) wins over Django's own (LOCALE_PATHS come first).
gettext_noop(
    "Please enter a correct %(username)s and password. Note that both fields may be case-sensitive."
)


class UserForm(forms.Form):
    """Create or edit a user; the actions do the checks that need the database."""

    username = forms.CharField(
        label=_("Username"), max_length=150, validators=[UnicodeUsernameValidator()]
    )
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.OPERATOR)
    page_permissions = forms.MultipleChoiceField(
        label=_("Page permissions"),
        choices=PagePermission.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Administrators may open every page."),
    )
    is_active = forms.BooleanField(
        label=_("Active"),
        required=False,
        initial=True,
        help_text=_("Inactive users cannot log in and their API tokens stop working."),
    )
    password = forms.CharField(
        label=_("Password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters, not only digits, not a common password."),
    )

    def __init__(self, *args: Any, user: User | None = None, **kwargs: Any) -> None:
        if user is not None:
            kwargs.setdefault(
                "initial",
                {
                    "username": user.username,
                    "first_name": user.first_name,
                    "last_name": user.last_name,
                    "email": user.email,
                    "role": user.role,
                    "page_permissions": list(user.page_permissions or []),
                    "is_active": user.is_active,
                },
            )
        super().__init__(*args, **kwargs)
        self.editing = user is not None
        if self.editing:
            self.fields["password"].label = _("New password")
            self.fields["password"].help_text = _("Leave empty to keep the current password.")
        else:
            self.fields["password"].required = True

    def values(self) -> dict[str, Any]:
        """The cleaned values as keyword arguments for the user actions."""
        values = dict(self.cleaned_data)
        if not values.get("password"):
            values.pop("password", None)
        return values

    def add_change_error(self, exc: UserChangeError) -> None:
        """Show an action's refusal: its message on top, each named field beside the field."""
        messages_shown = set()
        for field, message in exc.fields.items():
            if field in self.fields:
                self.add_error(field, message)
                messages_shown.add(str(message))
        if str(exc.message) not in messages_shown:
            self.add_error(None, exc.message)


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        required=False,
        help_text=_("What the token is for, e.g. “Splynx webhook” or “reports script”."),
    )
