"""WhatsApp ids as Evolution API and WPPConnect send them, read without I/O.

A JID is `<user>[:<device>]@<server>`: `5491123456789@s.whatsapp.net` (Baileys) and
`5491123456789@c.us` (WhatsApp Web) are phones, `…@lid` is a privacy id with no phone in
it, `…@g.us` a group, `status@broadcast` the status feed, `…@newsletter` a channel. Phones
are read with Argentina's rules: a 12-digit `54…` without the mobile 9 is the `+549…` mobile.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ispdesk.integrations.whatsapp.base import GatewayError
from ispdesk.lib.phones import PhoneError, normalize_phone

PHONE_SERVERS = frozenset({"s.whatsapp.net", "c.us"})
LID_SERVER = "lid"
# Chats we never open a conversation for: groups, broadcast lists and the status feed,
# channels.
IGNORED_SERVERS = frozenset({"g.us", "broadcast", "newsletter"})

_DIGITS = re.compile(r"^\d+$")
_E164_LIKE = re.compile(r"^\+?[\d\s().\-]+$")
# Unix seconds between 2001 and 9999; larger values are read as milliseconds.
_MIN_SECONDS = 1_000_000_000
_MAX_SECONDS = 253_402_300_799


@dataclass(frozen=True)
class Jid:
    user: str
    device: str
    server: str

    @property
    def bare(self) -> str:
        """The JID without the device part (`549…:12@s.whatsapp.net` → `549…@s.whatsapp.net`)."""
        return f"{self.user}@{self.server}"


def parse_jid(value: object) -> Jid | None:
    """The parts of a JID, or None when `value` is not one."""
    if not isinstance(value, str) or value.count("@") != 1:
        return None
    user_part, server = value.strip().split("@")
    user, _, device = user_part.partition(":")
    if not user or not server:
        return None
    return Jid(user=user, device=device, server=server.lower())


def is_lid(value: object) -> bool:
    jid = parse_jid(value)
    return jid is not None and jid.server == LID_SERVER


def is_phone_jid(value: object) -> bool:
    jid = parse_jid(value)
    return jid is not None and jid.server in PHONE_SERVERS and bool(_DIGITS.match(jid.user))


def is_ignored_chat(value: object) -> bool:
    """Groups, broadcasts (`status@broadcast` included) and channels: never a customer chat."""
    jid = parse_jid(value)
    return jid is not None and jid.server in IGNORED_SERVERS


def phone_from_digits(digits: str) -> str:
    """E.164 for the international digits of a WhatsApp id; "" when they cannot be a phone.

    WhatsApp ids only exist for mobiles, so Argentine numbers are read as mobiles (the 9
    is added when missing). A number the phone metadata does not know yet is kept as
    `+<digits>`: WhatsApp vouches for it.
    """
    if not _DIGITS.match(digits) or not 8 <= len(digits) <= 15:
        return ""
    try:
        return normalize_phone("+" + digits, mobile=True)
    except PhoneError:
        return "+" + digits


def jid_to_phone(value: object) -> str:
    """E.164 for a phone JID (`5491123456789@s.whatsapp.net`, `…@c.us`) or bare digits; else ""."""
    if isinstance(value, str) and _DIGITS.match(value.strip()):
        return phone_from_digits(value.strip())
    jid = parse_jid(value)
    if jid is None or jid.server not in PHONE_SERVERS:
        return ""
    return phone_from_digits(jid.user)


def bare_lid(value: object) -> str:
    """The `…@lid` JID without a device part, or "" when `value` is not a lid."""
    jid = parse_jid(value)
    if jid is None or jid.server != LID_SERVER:
        return ""
    return jid.bare


@dataclass(frozen=True)
class Identity:
    """Who a chat is: the chat id as received, its phone (E.164) and lid when known."""

    chat_id: str
    phone: str
    lid: str


def identify(chat_id: str, *alternatives: object) -> Identity:
    """Combine a chat id with the alternative ids a payload carries (e.g. `remoteJidAlt`).

    Whichever of them is a `@lid` gives the lid and whichever is a phone gives the phone, so
    both directions (lid chat with a phone alt, phone chat with a lid alt) are understood.
    """
    phone = ""
    lid = ""
    for candidate in (chat_id, *alternatives):
        if not phone:
            phone = jid_to_phone(candidate)
        if not lid:
            lid = bare_lid(candidate)
    return Identity(chat_id=chat_id, phone=phone, lid=lid)


@dataclass(frozen=True)
class SendTarget:
    """What to put in a gateway's `number`/`phone` field."""

    value: str
    is_lid: bool = False


def send_target(to: str) -> SendTarget:
    """The recipient a gateway expects for an E.164 number or a chat id as received.

    `+5491123456789` and `5491123456789@s.whatsapp.net` → `5491123456789`; a `…@lid` id
    goes as received (a lid has no phone in it). Groups and anything else are refused.
    """
    text = (to or "").strip()
    jid = parse_jid(text)
    if jid is not None:
        if jid.server == LID_SERVER and _DIGITS.match(jid.user):
            return SendTarget(jid.bare, is_lid=True)
        if jid.server in PHONE_SERVERS and _DIGITS.match(jid.user):
            return SendTarget(jid.user)
    elif _E164_LIKE.match(text):
        digits = re.sub(r"\D", "", text)
        if 8 <= len(digits) <= 15:
            return SendTarget(digits)
    raise GatewayError(
        f"cannot send to {text[:64]!r}: not a phone number or a contact's chat id",
        permanent=True,
        code="bad_recipient",
    )


def serialized_id(value: object) -> str:
    """A message or chat id given either as a string or as `{"_serialized": …}` (WPPConnect)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        inner = value.get("_serialized")
        if isinstance(inner, str):
            return inner
    return ""


def unix_time(value: Any) -> datetime | None:
    """A gateway timestamp as an aware UTC datetime, or None when it is not one.

    Accepts unix seconds as int, float or string, milliseconds, and the protobuf Long
    object Baileys sometimes serialises (`{"low": …, "high": …, "unsigned": true}`).
    """
    seconds: float
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value.strip()[:32])
        except ValueError:
            return None
    elif isinstance(value, dict):
        low, high = value.get("low"), value.get("high")
        if not isinstance(low, int) or not isinstance(high, int) or isinstance(low, bool):
            return None
        if isinstance(high, bool) or not 0 <= high < 2**32:
            return None
        seconds = float((high << 32) | (low & 0xFFFFFFFF))
    else:
        return None
    if not math.isfinite(seconds):
        return None
    if seconds > _MAX_SECONDS:
        seconds /= 1000
    if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


def data_url(image: object, mimetype: str = "image/png") -> str:
    """A `data:` URL for a base64 image that may come with or without its prefix."""
    if not isinstance(image, str) or not image.strip():
        return ""
    text = image.strip()
    if text.startswith("data:"):
        return text
    return f"data:{mimetype};base64,{text}"
