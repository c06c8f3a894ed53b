"""The `main_attributes` search syntax of Splynx list calls (pure).

`main_attributes[field]=value` is equality; any other operator is written
`main_attributes[field][0]=OP&main_attributes[field][1]=value` (lists for IN and BETWEEN as
`[1][0]`, `[1][1]`, …). LIKE values go without `%`: Splynx adds the wildcards itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

OPERATORS = frozenset(
    {"=", "!=", ">=", "<=", ">", "<", "<>", "IS", "REGEXP", "BETWEEN", "LIKE", "IN", "FIND_IN_SET"}
)
SCOPES = ("main_attributes", "additional_attributes")


@dataclass(frozen=True)
class Condition:
    field: str
    op: str = "="
    value: Any = ""
    scope: str = "main_attributes"

    def __post_init__(self) -> None:
        if self.op.upper() not in OPERATORS:
            raise ValueError(f"unknown Splynx search operator {self.op!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"unknown search scope {self.scope!r}")


def eq(field: str, value: Any) -> Condition:
    return Condition(field, "=", value)


def like(field: str, value: str) -> Condition:
    return Condition(field, "LIKE", value)


def format_value(value: Any) -> str:
    """Splynx's own spelling of a value: "1"/"0" for booleans, `YYYY-MM-DD HH:MM:SS` dates."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if value is None:
        return ""
    return str(value)


def search_params(
    conditions: Iterable[Condition] = (),
    *,
    order: Sequence[tuple[str, str]] = (),
    limit: int | None = None,
    offset: int | None = None,
) -> dict[str, str]:
    """The query parameters for a list call."""
    params: dict[str, str] = {}
    for condition in conditions:
        key = f"{condition.scope}[{condition.field}]"
        op = condition.op.upper()
        if op == "=" and not isinstance(condition.value, list | tuple):
            params[key] = format_value(condition.value)
            continue
        params[f"{key}[0]"] = op
        if isinstance(condition.value, list | tuple):
            for index, item in enumerate(condition.value):
                params[f"{key}[1][{index}]"] = format_value(item)
        else:
            value = format_value(condition.value)
            # Splynx wraps LIKE values in % itself; ours would be taken literally.
            params[f"{key}[1]"] = value.replace("%", "") if op == "LIKE" else value
    for field, direction in order:
        if direction.upper() not in ("ASC", "DESC"):
            raise ValueError(f"order direction must be ASC or DESC, not {direction!r}")
        params[f"order[{field}]"] = direction.upper()
    if limit is not None:
        params["limit"] = str(limit)
    if offset is not None:
        params["offset"] = str(offset)
    return params
