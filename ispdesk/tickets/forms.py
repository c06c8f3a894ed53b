"""Forms of the ticket pages: queue filters, a new ticket, and the per-ticket actions.

They parse and validate what a person typed; the actions in `actions.py` do the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from ispdesk.operators.models import Area, Operator
from ispdesk.tickets.models import OPEN_STATUSES, Priority, Source, Status
from ispdesk.tickets.schemas import MAX_POSITIVE_INT, TicketFilters

# Pseudo statuses of the queue filter; the default shows what still needs work.
OPEN = "open"
ANY = "all"
UNASSIGNED = "none"


def operator_label(operator: Operator) -> str:
    if operator.is_paused:
        return _("%(name)s (paused)") % {"name": operator.name}
    if operator.assignment_paused:
        return _("%(name)s (no new work)") % {"name": operator.name}
    return operator.name


class QueueFilterForm(forms.Form):
    """The queue's GET filters; `filters()` turns them into the API's filter shape."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": _("Subject, customer, external id…")}),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[(OPEN, _("Open")), (ANY, _("Any status")), *Status.choices],
    )
    assignee = forms.ChoiceField(label=_("Assignee"), required=False)
    area = forms.ChoiceField(label=_("Area"), required=False)
    source = forms.ChoiceField(
        label=_("Source"), required=False, choices=[("", _("Any source")), *Source.choices]
    )
    overdue = forms.ChoiceField(
        label=_("Overdue"),
        required=False,
        choices=[("", _("Any")), ("yes", _("Overdue only")), ("no", _("Not overdue"))],
    )

    def __init__(
        self,
        data: Any,
        *,
        operators: Sequence[Operator],
        areas: Sequence[Area],
        **kwargs: Any,
    ) -> None:
        super().__init__(data, **kwargs)
        cast(forms.ChoiceField, self.fields["assignee"]).choices = [
            ("", _("Anyone")),
            (UNASSIGNED, _("Unassigned")),
            *[(str(operator.pk), operator.name) for operator in operators],
        ]
        cast(forms.ChoiceField, self.fields["area"]).choices = [
            ("", _("Any area")),
            *[(str(area.pk), area.name) for area in areas],
        ]

    @property
    def shows_open_only(self) -> bool:
        return (self.cleaned_data.get("status") or OPEN) == OPEN

    def filters(self) -> TicketFilters:
        data = self.cleaned_data
        status = data.get("status") or OPEN
        if status == OPEN:
            statuses = [str(value) for value in OPEN_STATUSES]
        elif status == ANY:
            statuses = []
        else:
            statuses = [status]
        overdue = {"yes": True, "no": False}.get(data.get("overdue") or "")
        return TicketFilters(
            status=statuses,
            assignee=data.get("assignee") or None,
            area=int(data["area"]) if data.get("area") else None,
            source=data.get("source") or None,
            overdue=overdue,
            q=(data.get("q") or "").strip() or None,
            # Open work is read oldest first (who has waited longest); history newest first.
            order="oldest" if status == OPEN else "newest",
            # The page is the view's business (a Paginator); these only satisfy the schema.
            page=1,
            page_size=1,
        )


class TicketForm(forms.Form):
    """A ticket typed in by a supervisor or an admin."""

    subject = forms.CharField(label=_("Subject"), max_length=250)
    body = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    priority = forms.ChoiceField(
        label=_("Priority"), choices=Priority.choices, initial=Priority.MEDIUM
    )
    customer_name = forms.CharField(label=_("Customer name"), required=False, max_length=200)
    customer_splynx_id = forms.IntegerField(
        label=_("Splynx customer id"),
        required=False,
        min_value=1,
        max_value=MAX_POSITIVE_INT,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    area = forms.ModelChoiceField(
        label=_("Area"),
        required=False,
        queryset=Area.objects.filter(active=True),
        empty_label=_("No area"),
    )

    def clean_subject(self) -> str:
        subject: str = self.cleaned_data["subject"].strip()
        if not subject:
            raise forms.ValidationError(_("A subject is required."))
        return subject


class CommentForm(forms.Form):
    text = forms.CharField(
        label=_("Comment"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Write a comment.")},
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Status.choices)


class NoteForm(forms.Form):
    """The optional note of a close or a reopen."""

    note = forms.CharField(label=_("Note"), required=False, max_length=1000)


def active_operators() -> QuerySet[Operator]:
    """Who may be given a ticket by hand (paused ones too: a person decides)."""
    return Operator.objects.filter(active=True, user__is_active=True).select_related("user")


class AssignForm(forms.Form):
    """An active operator, or nobody: then the assignment engine chooses."""

    operator = forms.ModelChoiceField(
        label=_("Assignee"),
        required=False,
        queryset=active_operators(),
        error_messages={"invalid_choice": _("Choose an active operator.")},
    )


def first_error(form: forms.Form) -> str:
    """The first error of a form, for a one-line message."""
    for errors in form.errors.values():
        for error in errors:
            return str(error)
    return str(_("Check the values you entered."))
