"""Phone numbers in E.164 with Argentina's rules (pure; no Django models).

Argentine mobiles are dialled nationally as `0 <area> 15 <number>` and internationally as
`+54 9 <area> <number>`. WhatsApp only exists on mobiles, so a WhatsApp number written in the
fixed-line shape (`11 1234-5678`) is read as the mobile `+54 9 11 1234-5678`.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from django.utils.translation import gettext as _
from phonenumbers import NumberParseException, PhoneNumberType

DEFAULT_REGION = "AR"
# How many usable numbers `normalize_phone` remembers (a busy day's customers).
KNOWN_NUMBERS = 20_000
_JID_SUFFIX = re.compile(r"[:@].*$")
_ALLOWED = re.compile(r"^[\d\s()+\-./]+$")


class PhoneError(ValueError):
    """The text is not a usable phone number; `reason` says why, for a person."""

    def __init__(self, raw: str, reason: str) -> None:
        self.raw = raw
        self.reason = reason
        super().__init__(reason)


def _parse(text: str, region: str) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException as exc:
        reasons = {
            NumberParseException.INVALID_COUNTRY_CODE: _("unknown country code"),
            NumberParseException.NOT_A_NUMBER: _("not a phone number"),
            NumberParseException.TOO_SHORT_NSN: _("too short"),
            NumberParseException.TOO_SHORT_AFTER_IDD: _("too short"),
            NumberParseException.TOO_LONG: _("too long"),
        }
        raise PhoneError(text, reasons.get(exc.error_type, _("not a phone number"))) from None


def _as_argentine_mobile(number: phonenumbers.PhoneNumber) -> phonenumbers.PhoneNumber | None:
    """The mobile reading (+54 9 …) of an Argentine fixed-line-shaped number, if valid."""
    candidate = phonenumbers.PhoneNumber(
        country_code=54, national_number=int(f"9{number.national_number}")
    )
    if phonenumbers.number_type(candidate) == PhoneNumberType.MOBILE:
        return candidate
    return None


def normalize_phone(raw: str, *, region: str = DEFAULT_REGION, mobile: bool = False) -> str:
    """Return the number in E.164 (`+5491112345678`) or raise PhoneError with the reason.

    Accepts national and international shapes, separators, a leading `00`, bare digits with
    the country code, and WhatsApp ids (`5491112345678@s.whatsapp.net`). With `mobile=True`
    an Argentine number in fixed-line shape is read as the mobile it must be.
    """
    return _known_e164(raw, region, mobile)


def _normalize(raw: str, region: str, mobile: bool) -> str:
    text = _JID_SUFFIX.sub("", (raw or "").strip())
    if not text:
        raise PhoneError(raw, _("empty"))
    if not _ALLOWED.match(text):
        raise PhoneError(raw, _("contains characters that are not part of a phone number"))
    digits = re.sub(r"\D", "", text)
    if text.startswith("00"):
        text = "+" + digits[2:]
    elif not text.startswith("+") and digits.startswith("54") and len(digits) >= 12:
        # Bare digits with the country code, as gateways send them.
        text = "+" + digits
    number = _parse(text, region)
    if number.country_code == 54 and mobile:
        kind = phonenumbers.number_type(number)
        if kind != PhoneNumberType.MOBILE:
            as_mobile = _as_argentine_mobile(number)
            if as_mobile is None and phonenumbers.is_valid_number(number):
                raise PhoneError(raw, _("not a mobile number, so it cannot have WhatsApp"))
            if as_mobile is None:
                raise PhoneError(raw, _("not a valid number for its country"))
            number = as_mobile
    if not phonenumbers.is_valid_number(number):
        raise PhoneError(raw, _("not a valid number for its country"))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """A readable international form of an E.164 number (`+54 9 11 1234-5678`)."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def whatsapp_digits(e164: str) -> str:
    """The digits WhatsApp gateways use as the chat id (no `+`)."""
    return e164.lstrip("+")


# Usable numbers remembered once parsed: every message a customer sends names their number a
# few times, and parsing it was a good part of handing it over. A PhoneError is not kept
# (`lru_cache` keeps answers only): its reason is worked out again, in the language active.
_known_e164 = lru_cache(maxsize=KNOWN_NUMBERS)(_normalize)
