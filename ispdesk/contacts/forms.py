"""Forms of the contact pages. They check shapes; the actions normalise phones and DNIs and
check what needs the database, and their refusals are shown beside the field."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from ispdesk.contacts.actions import (
    MAX_NAME_LENGTH,
    MAX_NOTES_LENGTH,
    MAX_SPLYNX_ID,
    ContactError,
)
from ispdesk.contacts.importing import MAX_IMPORT_BYTES
from ispdesk.contacts.models import Contact
from ispdesk.lib.dni import format_dni
from ispdesk.lib.phones import format_phone
from ispdesk.operators.models import Area


def add_contact_error(form: forms.Form, exc: ContactError) -> None:
    """An action's refusal beside the fields it names, or on top of the form."""
    named = [name for name in exc.fields if name in form.fields]
    for name in named:
        form.add_error(name, exc.fields[name])
    if not named:
        form.add_error(None, exc.message)


class ContactForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=MAX_NAME_LENGTH)
    phone = forms.CharField(
        label=_("Phone"),
        required=False,
        max_length=40,
        help_text=_("A mobile number, e.g. 11 5555-0001 or +54 9 351 555-0003."),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    dni = forms.CharField(
        label=_("DNI"),
        required=False,
        max_length=20,
        help_text=_("7 or 8 digits, with or without dots."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    preferred_area = forms.TypedChoiceField(
        label=_("Preferred area"), coerce=int, required=False, empty_value=None
    )
    splynx_customer_id = forms.IntegerField(
        label=_("Splynx customer id"), required=False, min_value=1, max_value=MAX_SPLYNX_ID
    )
    tags = forms.CharField(
        label=_("Tags"),
        required=False,
        max_length=1000,
        help_text=_("Separated by commas, e.g. fibra, empresa."),
    )
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        max_length=MAX_NOTES_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(
        self, data: Any = None, *, contact: Contact | None = None, areas: Iterable[Area] = ()
    ) -> None:
        initial: dict[str, Any] = {}
        if contact is not None:
            initial = {
                "name": contact.name,
                "phone": format_phone(contact.phone) if contact.phone else "",
                "dni": format_dni(contact.dni) if contact.dni else "",
                "preferred_area": contact.preferred_area_id,
                "splynx_customer_id": contact.splynx_customer_id,
                "tags": ", ".join(contact.tags or []),
                "notes": contact.notes,
            }
        super().__init__(data, initial=initial)
        self.areas = {area.pk: area for area in areas}
        area_field = self.fields["preferred_area"]
        assert isinstance(area_field, forms.TypedChoiceField)
        area_field.choices = [("", _("— None —"))] + [
            (str(pk), area.name) for pk, area in self.areas.items()
        ]

    def changes(self) -> dict[str, Any]:
        """The values for the actions (a valid form only)."""
        data = self.cleaned_data
        area_id = data["preferred_area"]
        return {
            "name": data["name"],
            "phone": data["phone"] or None,
            "dni": data["dni"],
            "preferred_area": self.areas.get(area_id) if area_id is not None else None,
            "splynx_customer_id": data["splynx_customer_id"],
            "tags": data["tags"].split(","),
            "notes": data["notes"],
        }


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "CSV with the columns name, phone, dni, area (or nombre, teléfono, dni, área), "
            "separated by commas or semicolons; or JSON. At most 5 MB."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.json,.txt,text/csv"}),
    )

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        if upload.size is not None and upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(size)s MB."),
                params={"size": MAX_IMPORT_BYTES // 2**20},
                code="too_large",
            )
        return upload
