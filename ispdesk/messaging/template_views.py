"""The message templates page (admins): every key by language, edit with a live preview,
switch on/off, restore the shipped default.

The preview is a POST of the draft (HTMX, as the admin types) answered with a fragment: the
text rendered with sample values, or the reason it cannot be saved. A refused save re-renders
the page with the reason beside the body.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ispdesk.accounts.decorators import AuthenticatedRequest, admin_required
from ispdesk.messaging.message_templates import (
    FALLBACK_LANGUAGE,
    LANGUAGE_CODES,
    LANGUAGES,
    MAX_BODY_LENGTH,
    TEMPLATE_KEYS,
    TemplateError,
    TemplateKey,
    do_restore_default_template,
    do_save_template,
    preview,
    template_language,
    validate_body,
)
from ispdesk.messaging.models import MessageTemplate


@dataclass(frozen=True)
class TemplateEntry:
    spec: TemplateKey
    language: str
    row: MessageTemplate | None

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def body(self) -> str:
        return self.row.body if self.row is not None else self.default_body

    @property
    def default_body(self) -> str:
        return self.spec.default_body(self.language)

    @property
    def active(self) -> bool:
        return self.row is not None and self.row.active

    @property
    def customised(self) -> bool:
        return self.row is not None and self.row.body != self.default_body

    @property
    def in_use(self) -> str:
        """Which text is sent: this row's, or the shipped default."""
        return "stored" if self.active else "default"


def access_template(key: str, language: str) -> TemplateEntry:
    """The key and language an admin asked for; 404 for anything we do not ship."""
    spec = TEMPLATE_KEYS.get(key)
    if spec is None or language not in LANGUAGE_CODES:
        raise Http404("unknown template")
    row = MessageTemplate.objects.filter(key=key, language=language).first()
    return TemplateEntry(spec, language, row)


def template_entries(language: str) -> list[TemplateEntry]:
    rows = {row.key: row for row in MessageTemplate.objects.filter(language=language)}
    return [TemplateEntry(spec, language, rows.get(key)) for key, spec in TEMPLATE_KEYS.items()]


class TemplateForm(forms.Form):
    body = forms.CharField(
        label=gettext_lazy("Message"),
        strip=False,
        max_length=MAX_BODY_LENGTH,
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    active = forms.BooleanField(
        label=gettext_lazy("Active"),
        required=False,
        help_text=gettext_lazy("When off, the shipped default is sent instead of this text."),
    )

    def __init__(self, *args: object, key: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.key = key

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].replace("\r\n", "\n")
        try:
            validate_body(self.key, body)
        except TemplateError as exc:
            raise forms.ValidationError(exc.message) from None
        return body


def _languages(current: str) -> list[dict[str, object]]:
    return [{"code": code, "name": name, "current": code == current} for code, name in LANGUAGES]


@admin_required
def template_list(request: AuthenticatedRequest) -> HttpResponse:
    wanted = request.GET.get("lang") or FALLBACK_LANGUAGE
    language = template_language(wanted)
    context = {
        "message_templates_page": True,
        "language": language,
        "languages": _languages(language),
        "entries": template_entries(language),
    }
    return render(request, "messaging/templates.html", context)


def _render_edit(
    request: AuthenticatedRequest, entry: TemplateEntry, form: TemplateForm, status: int = 200
) -> HttpResponse:
    context = {
        "message_templates_page": True,
        "entry": entry,
        "form": form,
        "language": entry.language,
        "languages": _languages(entry.language),
        "placeholders": list(entry.spec.placeholders.items()),
        "preview_text": _safe_preview(entry.key, entry.body, entry.language),
    }
    return render(request, "messaging/templates_edit.html", context, status=status)


def _safe_preview(key: str, body: str, language: str) -> dict[str, str]:
    try:
        return {"text": preview(key, body, language), "error": ""}
    except TemplateError as exc:
        return {"text": "", "error": exc.message}


@admin_required
def template_edit(request: AuthenticatedRequest, key: str, language: str) -> HttpResponse:
    entry = access_template(key, language)
    if request.method != "POST":
        # A key without a row sends the default; saving it creates an active row.
        active = entry.active if entry.row is not None else True
        form = TemplateForm(initial={"body": entry.body, "active": active}, key=key)
        return _render_edit(request, entry, form)
    form = TemplateForm(request.POST, key=key)
    if not form.is_valid():
        return _render_edit(request, entry, form, status=422)
    try:
        do_save_template(
            request.user,
            key,
            language,
            body=form.cleaned_data["body"],
            active=form.cleaned_data["active"],
        )
    except TemplateError as exc:  # validated above; kept for a body that changed meanwhile
        form.add_error("body", exc.message)
        return _render_edit(request, entry, form, status=422)
    messages.success(request, _("The message %(key)s was saved.") % {"key": key})
    return redirect("message_template_edit", key=key, language=language)


@admin_required
@require_POST
def template_preview(request: AuthenticatedRequest, key: str, language: str) -> HttpResponse:
    """The draft rendered with sample values, or why it cannot be saved (a fragment)."""
    entry = access_template(key, language)
    body = request.POST.get("body", "").replace("\r\n", "\n")
    context = {"preview_text": _safe_preview(entry.key, body, entry.language)}
    return render(request, "messaging/templates_preview.html", context)


@admin_required
@require_POST
def template_restore(request: AuthenticatedRequest, key: str, language: str) -> HttpResponse:
    entry = access_template(key, language)
    do_restore_default_template(request.user, entry.key, entry.language)
    messages.success(
        request, _("The message %(key)s is back to the shipped text.") % {"key": entry.key}
    )
    return redirect("message_template_edit", key=key, language=language)
