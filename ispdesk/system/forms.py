"""Forms of the system pages: business settings and audit log filters."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ispdesk.system.config import ConfigKey, ConfigValueError, get_config
from ispdesk.system.models import AuditEvent


def config_as_text(definition: ConfigKey, value: Any) -> Any:
    """A stored value as the form shows it (lists one item per line)."""
    if definition.type == "list":
        return "\n".join(str(item) for item in value or [])
    return value


def _config_field(definition: ConfigKey) -> forms.Field:
    label = str(definition.description)
    if definition.type == "bool":
        return forms.BooleanField(label=label, required=False)
    # Everything else arrives as text and is parsed by the key itself, so the page shows the
    # same reasons as the API ("must be at least 30").
    if definition.type == "int":
        attrs: dict[str, Any] = {"step": 1}
        if definition.minimum is not None:
            attrs["min"] = definition.minimum
        if definition.maximum is not None:
            attrs["max"] = definition.maximum
        return forms.CharField(label=label, required=False, widget=forms.NumberInput(attrs=attrs))
    if definition.type == "list":
        return forms.CharField(
            label=label,
            required=False,
            widget=forms.Textarea(attrs={"rows": 4}),
            help_text=_("One per line."),
        )
    if definition.choices:
        choices = [(choice, choice) for choice in definition.choices]
        return forms.CharField(label=label, required=False, widget=forms.Select(choices=choices))
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        widget=forms.TextInput(attrs={"maxlength": definition.max_length}),
    )


class ConfigForm(forms.Form):
    """Every setting at once; `cleaned_data` holds parsed values only when all are valid."""

    def __init__(self, definitions: list[ConfigKey], *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {item.key: config_as_text(item, get_config(item.key)) for item in definitions},
        )
        super().__init__(*args, **kwargs)
        self.definitions = definitions
        for definition in definitions:
            self.fields[definition.key] = _config_field(definition)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for definition in self.definitions:
            if definition.key not in cleaned:
                continue
            try:
                cleaned[definition.key] = definition.parse(cleaned[definition.key])
            except ConfigValueError as exc:
                self.add_error(definition.key, exc.message)
        return cleaned

    def add_config_error(self, exc: ConfigValueError) -> None:
        if exc.key in self.fields:
            self.add_error(exc.key, exc.message)
        else:
            self.add_error(None, str(exc))


class AuditFilterForm(forms.Form):
    actor = forms.CharField(label=_("Actor"), required=False, max_length=150)
    action = forms.CharField(
        label=_("Action starts with"),
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"placeholder": "user."}),
    )
    object_type = forms.CharField(
        label=_("Object type"),
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"list": "audit-object-types"}),
    )
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To (inclusive)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            self.add_error("until", _("must not be before the start date"))
        return cleaned

    def filter(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        data = self.cleaned_data
        if data.get("actor"):
            events = events.filter(actor_label__iexact=data["actor"].strip())
        if data.get("action"):
            events = events.filter(action__startswith=data["action"].strip())
        if data.get("object_type"):
            events = events.filter(object_type=data["object_type"].strip())
        if data.get("since"):
            events = events.filter(created_at__gte=_start_of_day(data["since"]))
        if data.get("until"):
            events = events.filter(created_at__lt=_start_of_day(data["until"] + timedelta(days=1)))
        return events


def _start_of_day(day: date) -> datetime:
    """Midnight of a day in the current time zone, where people read the dates."""
    return timezone.make_aware(datetime.combine(day, time.min))
