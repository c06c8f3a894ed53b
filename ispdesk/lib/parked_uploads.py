"""An uploaded file parked in the session between a preview and its confirmation.

The preview page carries a one-time token; confirming takes back exactly the file that was
previewed, once (a refresh or a second click gets nothing). Used by every "upload →
preview → apply" page (contacts, Gestión Real cases).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ParkedUpload:
    data: bytes
    name: str
    hint: str


def park_upload(session: Any, key: str, data: bytes, *, name: str = "", hint: str = "") -> str:
    """Keep `data` in the session under `key`; return the token the preview form carries."""
    token = secrets.token_urlsafe(16)
    session[key] = {
        "token": token,
        "name": name,
        "hint": hint,
        "data": base64.b64encode(data).decode("ascii"),
    }
    return token


def take_upload(session: Any, key: str, token: str) -> ParkedUpload | None:
    """The file parked under `key` if `token` is its token, removed from the session; None
    when there is none, the token is wrong, or it was taken already."""
    pending = session.get(key) or {}
    if not token or not secrets.compare_digest(str(pending.get("token", "")), token):
        return None
    del session[key]
    return ParkedUpload(
        data=base64.b64decode(pending["data"]),
        name=str(pending.get("name", "")),
        hint=str(pending.get("hint", "")),
    )


def drop_upload(session: Any, key: str) -> None:
    session.pop(key, None)
