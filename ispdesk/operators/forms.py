"""Forms of the team pages. They check shapes; the actions check what needs the database."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, time
from typing import Any, cast

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from ispdesk.accounts.models import User
from ispdesk.lib.phones import format_phone
from ispdesk.operators.actions import TeamChangeError
from ispdesk.operators.models import SHIFT_TAG_PATTERN, Area, Operator, ScheduleKind, Weekday
from ispdesk.operators.schemas import (
    FIRST_YEAR,
    LAST_YEAR,
    MAX_AUTO_CLOSE_MINUTES,
    MAX_COURTESY_CHARS,
    MAX_ID,
)

TIME_FORMAT = "%H:%M"
TAG_VALIDATOR = RegexValidator(
    SHIFT_TAG_PATTERN,
    _("A tag is 1 to 18 letters, digits, '-' or '_' in brackets, like [TT]."),
)


def add_team_error(
    form: forms.Form,
    exc: TeamChangeError,
    rename: Mapping[str, str | None] | None = None,
    message: str | None = None,
) -> None:
    """Show an action's refusal beside the field it names (its whole sentence when it names
    one field), otherwise on top of the form. `rename` maps the action's field names to the
    form's (None: on top of the form); `message` replaces the action's sentence."""
    rename = rename or {}
    text = message or exc.message
    fields = {rename.get(name, name): reason for name, reason in exc.fields.items()}
    named = [name for name in fields if name is not None and name in form.fields]
    if len(named) == 1:
        form.add_error(named[0], text)
        return
    for name in named:
        form.add_error(name, fields[name])
    form.add_error(None, text)


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format=TIME_FORMAT, **kwargs)


def time_field(label: Any, **kwargs: Any) -> forms.TimeField:
    return forms.TimeField(
        label=label, input_formats=[TIME_FORMAT, "%H:%M:%S"], widget=TimeInput(), **kwargs
    )


def user_label(user: User) -> str:
    name = user.get_full_name()
    return f"{name} ({user.username})" if name else user.username


def operator_choices(operators: Iterable[Operator]) -> list[tuple[str, str]]:
    return [(str(operator.pk), operator.name) for operator in operators]


# Operators


class OperatorForm(forms.Form):
    """Add an operator (pick a user without a profile) or edit one."""

    user = forms.TypedChoiceField(label=_("User"), coerce=int)
    person_id = forms.IntegerField(
        label=_("Splynx administrator id"),
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text=_("The administrator this operator works as in Splynx. Leave empty to unlink."),
    )
    whatsapp = forms.CharField(
        label=_("WhatsApp number"),
        required=False,
        max_length=40,
        help_text=_("A mobile number, e.g. 11 5555-0001 or +54 9 351 555-0003."),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    areas = forms.TypedMultipleChoiceField(
        label=_("Areas"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    chat_capacity = forms.IntegerField(
        label=_("Chat capacity"),
        min_value=0,
        max_value=999,
        initial=5,
        help_text=_("How many chats at once, at most."),
    )
    active = forms.BooleanField(
        label=_("Active"),
        required=False,
        initial=True,
        help_text=_("Inactive operators get no work and are left out of every rule."),
    )
    is_paused = forms.BooleanField(
        label=_("Paused"), required=False, help_text=_("No new work and no notifications.")
    )
    assignment_paused = forms.BooleanField(
        label=_("Assignment paused"),
        required=False,
        help_text=_("Keeps current work, gets no new."),
    )
    notifications_enabled = forms.BooleanField(
        label=_("WhatsApp notifications"),
        required=False,
        initial=True,
        help_text=_("Alerts and reminders by WhatsApp."),
    )

    FIELDS = (
        "person_id",
        "whatsapp",
        "chat_capacity",
        "active",
        "is_paused",
        "assignment_paused",
        "notifications_enabled",
    )

    def __init__(
        self,
        *args: Any,
        operator: Operator | None = None,
        free_users: Iterable[User] = (),
        areas: Iterable[Area] = (),
        **kwargs: Any,
    ) -> None:
        if operator is not None:
            initial = {name: getattr(operator, name) for name in self.FIELDS}
            initial["whatsapp"] = format_phone(operator.whatsapp) if operator.whatsapp else ""
            initial["areas"] = [area.pk for area in operator.areas.all()]
            kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["areas"]).choices = [
            (area.pk, area.name if area.active else f"{area.name} ({_('inactive')})")
            for area in areas
        ]
        if operator is not None:
            del self.fields["user"]
        else:
            cast(forms.ChoiceField, self.fields["user"]).choices = [("", "—")] + [
                (user.pk, user_label(user)) for user in free_users
            ]

    def changes(self) -> dict[str, Any]:
        """The cleaned values for `do_save_operator` (areas still as ids)."""
        data = self.cleaned_data
        changes = {name: data[name] for name in self.FIELDS}
        changes["whatsapp"] = data["whatsapp"].strip()
        return changes


class PauseForm(forms.Form):
    """One click on the operators page: pause or resume one of the three modes."""

    mode = forms.ChoiceField(
        choices=[("full", "full"), ("assignment", "assignment"), ("notifications", "notifications")]
    )
    paused = forms.TypedChoiceField(choices=[("1", "1"), ("0", "0")], coerce=lambda v: v == "1")


# Schedules


class ScheduleAddForm(forms.Form):
    """Add the same window on several weekdays, to one or more kinds, at once."""

    kinds = forms.MultipleChoiceField(
        label=_("Schedules"),
        choices=ScheduleKind.choices,
        initial=[ScheduleKind.WORK],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one schedule.")},
    )
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Weekdays"),
        choices=Weekday.choices,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one weekday.")},
    )
    start = time_field(_("From"))
    end = time_field(
        _("To"), help_text=_("An end earlier than the start ends the next day (a night shift).")
    )


class ScheduleCopyForm(forms.Form):
    """Make the assignment and/or alert schedules equal to the work schedule."""

    targets = forms.MultipleChoiceField(
        label=_("Copy the work hours to"),
        choices=[
            (ScheduleKind.ASSIGNMENT, ScheduleKind.ASSIGNMENT.label),
            (ScheduleKind.ALERT, ScheduleKind.ALERT.label),
        ],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose where to copy the work hours.")},
    )


# On-duty cover


def day_key(day: date) -> str:
    return day.isoformat()


class OnDutyForm(forms.Form):
    """Who covers each day of a period: one checkbox group per day, plus what the page showed
    (`was-<day>`) so that only the days changed here are saved."""

    def __init__(
        self, *args: Any, days: Iterable[date], operators: Iterable[Operator], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        choices = operator_choices(operators)
        self.days = list(days)
        for day in self.days:
            key = day_key(day)
            self.fields[f"d-{key}"] = forms.TypedMultipleChoiceField(
                choices=choices, coerce=int, required=False, widget=forms.CheckboxSelectMultiple
            )
            self.fields[f"was-{key}"] = forms.CharField(required=False, widget=forms.HiddenInput)

    @staticmethod
    def encode(ids: Iterable[int]) -> str:
        return ",".join(str(pk) for pk in sorted(ids))

    def changed_days(self) -> dict[date, list[int]]:
        """The days whose cover differs from what the page showed, with the chosen ids."""
        changed = {}
        for day in self.days:
            key = day_key(day)
            chosen = sorted(set(self.cleaned_data[f"d-{key}"]))
            if self.encode(chosen) != self.cleaned_data[f"was-{key}"]:
                changed[day] = chosen
        return changed


# Areas


class AreaForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80)
    description = forms.CharField(label=_("Description"), max_length=300, required=False)
    active = forms.BooleanField(
        label=_("Active"),
        required=False,
        initial=True,
        help_text=_("Inactive areas receive no chats."),
    )
    members = forms.TypedMultipleChoiceField(
        label=_("Members"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    auto_close_minutes = forms.IntegerField(
        label=_("Close idle chats after (minutes)"),
        required=False,
        min_value=0,
        max_value=MAX_AUTO_CLOSE_MINUTES,
        help_text=_("Empty: the general setting. 0: never close them by themselves."),
    )

    FIELDS = ("name", "description", "active", "auto_close_minutes")

    def __init__(
        self,
        *args: Any,
        area: Area | None = None,
        operators: Iterable[Operator] = (),
        **kwargs: Any,
    ) -> None:
        if area is not None:
            initial: dict[str, Any] = {name: getattr(area, name) for name in self.FIELDS}
            initial["members"] = [operator.pk for operator in area.operators.all()]
            kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["members"]).choices = operator_choices(operators)

    def changes(self) -> dict[str, Any]:
        """The cleaned values for `do_save_area_and_members` (members still as ids)."""
        return {name: self.cleaned_data[name] for name in self.FIELDS}


class AreaHoursForm(forms.Form):
    """Add the same working-hours window on several weekdays at once."""

    weekdays = forms.TypedMultipleChoiceField(
        label=_("Weekdays"),
        choices=Weekday.choices,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one weekday.")},
    )
    start = time_field(_("From"))
    end = time_field(_("To"), help_text=_("An end earlier than the start ends the next day."))
    courtesy_message = forms.CharField(
        label=_("Courtesy message"),
        required=False,
        max_length=MAX_COURTESY_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Sent to customers who write while the area is closed and these hours open next. "
            "Empty: the after-hours message template."
        ),
    )


# Shift tags and calendar exceptions


class ShiftTagForm(forms.Form):
    tag = forms.CharField(
        label=_("Tag"),
        max_length=20,
        validators=[TAG_VALIDATOR],
        widget=forms.TextInput(attrs={"placeholder": "[TT]", "autocomplete": "off"}),
    )
    name = forms.CharField(label=_("Name"), max_length=80)
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    operators = forms.TypedMultipleChoiceField(
        label=_("Operators"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, operators: Iterable[Operator] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["operators"]).choices = operator_choices(operators)


class CalendarExceptionForm(forms.Form):
    CLOSED, SPECIAL = "closed", "special"

    day = forms.DateField(label=_("Day"), widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(
        label=_("The business is"),
        choices=[(CLOSED, _("Closed all day")), (SPECIAL, _("Open with special hours"))],
        initial=CLOSED,
        widget=forms.RadioSelect,
    )
    start = time_field(_("Opens"), required=False)
    end = time_field(_("Closes"), required=False)
    note = forms.CharField(
        label=_("Note"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. Inventory day")}),
    )

    def clean_day(self) -> date:
        day: date = self.cleaned_data["day"]
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise forms.ValidationError(
                _("Choose a day between the years %(first)s and %(last)s.")
                % {"first": FIRST_YEAR, "last": LAST_YEAR}
            )
        return day

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        closed = data["kind"] == self.CLOSED
        start: time | None = None if closed else data["start"]
        end: time | None = None if closed else data["end"]
        return {
            "day": data["day"],
            "closed": closed,
            "start": start,
            "end": end,
            "note": data["note"].strip(),
        }
