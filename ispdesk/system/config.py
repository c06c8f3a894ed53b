"""Typed business settings: definitions in code, values in `SystemConfig` rows.

Read them with `get_config("key")`. Values are cached per process for a few seconds, so an
admin's change takes effect everywhere without a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from django.utils.functional import Promise
from django.utils.translation import gettext as _

from ispdesk.lib.timed import TimedCache

ConfigType = Literal["str", "int", "bool", "list"]
CACHE_SECONDS = 5.0


class ConfigValueError(ValueError):
    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")


@dataclass(frozen=True)
class ConfigKey:
    key: str
    type: ConfigType
    default: Any
    description: str | Promise
    group: str | Promise = ""
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = field(default_factory=tuple)
    max_length: int = 500
    # Text settings only: a further check of a non-empty value, returning the value to store
    # or raising ValueError whose message says what is wrong ("expected an http:// address").
    clean: Callable[[str], str] | None = None

    def parse(self, raw: Any) -> Any:
        """Turn a submitted value (JSON or form text) into the typed value, or raise."""
        if self.type == "bool":
            return self._parse_bool(raw)
        if self.type == "int":
            return self._parse_int(raw)
        if self.type == "list":
            return self._parse_list(raw)
        return self._parse_str(raw)

    def _parse_bool(self, raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in {"1", "true", "yes", "on", "si", "sí"}:
            return True
        if isinstance(raw, str) and raw.strip().lower() in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigValueError(self.key, _("expected true or false"))

    def _parse_int(self, raw: Any) -> int:
        if isinstance(raw, bool):
            raise ConfigValueError(self.key, _("expected a whole number"))
        try:
            number = int(raw.strip() if isinstance(raw, str) else raw)
        except (TypeError, ValueError, OverflowError):  # OverflowError: JSON's Infinity
            raise ConfigValueError(self.key, _("expected a whole number")) from None
        if isinstance(raw, float) and raw != number:
            raise ConfigValueError(self.key, _("expected a whole number"))
        if self.minimum is not None and number < self.minimum:
            raise ConfigValueError(self.key, _("must be at least %(min)s") % {"min": self.minimum})
        if self.maximum is not None and number > self.maximum:
            raise ConfigValueError(self.key, _("must be at most %(max)s") % {"max": self.maximum})
        return number

    def _parse_str(self, raw: Any) -> str:
        if not isinstance(raw, str):
            raise ConfigValueError(self.key, _("expected text"))
        value = raw.strip()
        if "\x00" in value:  # PostgreSQL cannot store it
            raise ConfigValueError(self.key, _("must not contain NUL characters"))
        if len(value) > self.max_length:
            raise ConfigValueError(
                self.key, _("must be at most %(max)s characters") % {"max": self.max_length}
            )
        if self.choices and value not in self.choices:
            raise ConfigValueError(
                self.key, _("must be one of: %(choices)s") % {"choices": ", ".join(self.choices)}
            )
        if self.clean is not None and value:
            try:
                value = self.clean(value)
            except ValueError as exc:
                raise ConfigValueError(self.key, str(exc)) from None
        return value

    def _parse_list(self, raw: Any) -> list[str]:
        if isinstance(raw, str):
            items = [line.strip() for line in raw.replace(",", "\n").splitlines()]
        elif isinstance(raw, list) and all(isinstance(item, str) for item in raw):
            items = [item.strip() for item in raw]
        else:
            raise ConfigValueError(self.key, _("expected a list of texts"))
        if any("\x00" in item for item in items):
            raise ConfigValueError(self.key, _("must not contain NUL characters"))
        return [item for item in items if item]


_REGISTRY: dict[str, ConfigKey] = {}


def define(key: ConfigKey) -> ConfigKey:
    existing = _REGISTRY.get(key.key)
    if existing is not None and existing != key:
        raise RuntimeError(f"config key {key.key!r} is defined twice")
    _REGISTRY[key.key] = key
    return key


def config_keys() -> list[ConfigKey]:
    return sorted(_REGISTRY.values(), key=lambda item: (str(item.group), item.key))


def config_key(key: str) -> ConfigKey:
    try:
        return _REGISTRY[key]
    except KeyError:
        raise ConfigValueError(key, _("unknown setting")) from None


def _stored_values() -> dict[str, Any]:
    from ispdesk.system.models import SystemConfig

    return dict(SystemConfig.objects.values_list("key", "value"))


_cache = TimedCache(_stored_values, CACHE_SECONDS)


def clear_config_cache() -> None:
    _cache.clear()


def get_config(key: str) -> Any:
    """The current value of a setting: the stored one if valid, else the coded default."""
    definition = config_key(key)
    stored = _cache.get()
    if key not in stored:
        return definition.default
    try:
        return definition.parse(stored[key])
    except ConfigValueError:
        # A value that no longer fits its definition (after an upgrade) falls back safely.
        return definition.default
