"""Typed bodies and answers of the WhatsApp connections and bot API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import BeforeValidator, Field

from ispdesk.accounts.schemas import Text
from ispdesk.messaging.connections import MAX_RATE_PER_SECOND, NAME_MAX_LENGTH


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


Kind = Literal["evolution", "wppconnect", "meta_cloud", "simulator"]
Name = Annotated[Text, BeforeValidator(_strip), Field(min_length=1, max_length=NAME_MAX_LENGTH)]
Rate = Annotated[float, Field(ge=0, le=MAX_RATE_PER_SECOND)]
# The kind's settings, validated by its adapter's config class (see ispdesk.messaging.connections).
Config = dict[str, Any]

CONFIG_HELP = (
    "The kind's settings. evolution: base_url, api_key, instance. wppconnect: base_url, "
    "session, secret_key. meta_cloud: base_url (default the Graph API), api_version, "
    "phone_number_id, access_token, app_secret, verify_token. simulator: none. Secrets are "
    'write-only: answers show {"set": true|false}; leaving one out (or blank) keeps it.'
)


class ConnectionCreateIn(Schema):
    kind: Kind
    name: Name
    config: Config = Field(default_factory=dict, description=CONFIG_HELP)
    enabled: bool = True
    rate_per_second: Rate | None = Field(
        None, description="Messages per second; null = the kind's default; 0 = unlimited."
    )
    is_default: bool | None = Field(
        None, description="The connection for operator alerts (the first one is by default)."
    )


class ConnectionUpdateIn(Schema):
    """Only the keys sent change; `config` is merged over the stored settings."""

    name: Name | None = None
    config: Config | None = Field(None, description=CONFIG_HELP)
    enabled: bool | None = None
    rate_per_second: Rate | None = None
    is_default: bool | None = None


class ConnectionOut(Schema):
    id: int
    kind: str
    name: str
    enabled: bool
    is_default: bool
    status: str
    status_detail: str
    status_changed_at: datetime | None
    qr: str | None = Field(description="The last QR as an image data URL while one is pending.")
    webhook_url: str = Field(description="Where the gateway must post its events.")
    config: dict[str, Any]
    rate_per_second: float | None
    default_rate_per_second: float | None
    queued: int = Field(description="Messages waiting to be sent through this connection.")
    bot_paused: bool
    display_name: str
    phone_number: str
    created_at: datetime
    updated_at: datetime


class ProbeOut(Schema):
    ok: bool = Field(description="False when the gateway could not be reached or refused us.")
    state: str
    detail: str
    qr: str | None


class SessionOut(ProbeOut):
    connection: ConnectionOut


class ConnectionRef(Schema):
    id: int
    name: str
    kind: str


class BotStatusOut(Schema):
    connection: ConnectionRef | None
    state: str
    detail: str
    qr: str | None
    paused: bool
    queue_depth: int
    display_name: str
    number: str


class BotMetadataIn(Schema):
    display_name: Text | None = Field(None, max_length=NAME_MAX_LENGTH)
    number: Text | None = Field(None, max_length=40)
