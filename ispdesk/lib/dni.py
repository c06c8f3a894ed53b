"""Argentine DNI numbers (pure; no Django models).

A DNI is written with dots (`12.345.678`) or spaces, and stored as its 7 or 8 digits. Older
documents have 7 digits; a leading zero is not part of the number ("01.234.567" is 1234567).
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

# ASCII digits only: `\d` would accept Arabic-Indic and other Unicode digits.
_SHAPE = re.compile(r"^[0-9][0-9. ]*$")
_SEPARATORS = re.compile(r"[. ]")
MIN_DIGITS, MAX_DIGITS = 7, 8


class DniError(ValueError):
    """The text is not a DNI; `reason` says why, for a person."""

    def __init__(self, raw: str, reason: str) -> None:
        self.raw = raw
        self.reason = reason
        super().__init__(reason)


def normalize_dni(raw: str) -> str:
    """The DNI's digits (`"12345678"`), or DniError with the reason."""
    text = (raw or "").strip()
    if not text:
        raise DniError(raw, _("empty"))
    if not _SHAPE.match(text):
        raise DniError(raw, _("a DNI has only digits, optionally grouped with dots or spaces"))
    digits = _SEPARATORS.sub("", text).lstrip("0")
    if not digits:
        raise DniError(raw, _("a DNI cannot be zero"))
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        raise DniError(raw, _("a DNI has 7 or 8 digits"))
    return digits


def format_dni(digits: str) -> str:
    """The usual written form: `12.345.678`."""
    if not digits.isdigit():
        return digits
    return f"{int(digits):,}".replace(",", ".")
