"""Finding the adapter class for a connection kind."""

from __future__ import annotations

import importlib
from typing import Any

from ispdesk.integrations.whatsapp.base import Gateway, GatewayConfig

# kind → module path; each module defines `ADAPTER`, its Gateway subclass.
KINDS = {
    "evolution": "ispdesk.integrations.whatsapp.evolution",
    "wppconnect": "ispdesk.integrations.whatsapp.wppconnect",
    "meta_cloud": "ispdesk.integrations.whatsapp.meta_cloud",
    "simulator": "ispdesk.integrations.whatsapp.simulator",
}


def adapter_class(kind: str) -> type[Gateway]:
    try:
        module = importlib.import_module(KINDS[kind])
    except KeyError:
        raise ValueError(f"unknown gateway kind {kind!r}") from None
    adapter: type[Gateway] = module.ADAPTER
    return adapter


def parse_config(kind: str, raw: dict[str, Any]) -> GatewayConfig:
    """Validate stored or submitted settings (pydantic ValidationError when bad)."""
    return adapter_class(kind).config_class.model_validate(raw)


def build(kind: str, raw_config: dict[str, Any]) -> Gateway:
    adapter = adapter_class(kind)
    return adapter(adapter.config_class.model_validate(raw_config))
