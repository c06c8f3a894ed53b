"""Whether an area is open: its working-hours windows over the business calendar.

Pure: windows, calendar and time in, an `AreaOpening` out. Holidays close every area unless a
calendar exception opens the day. An area without windows is open at all hours (holidays
still close it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ispdesk.lib.calendar import BusinessCalendar, Window


@dataclass(frozen=True)
class HoursWindow:
    window: Window
    courtesy_message: str = ""


@dataclass(frozen=True)
class AreaOpening:
    open: bool
    # When the current open period ends (open) / the next one starts (closed); None = never.
    closes_at: datetime | None
    next_opening: datetime | None
    # The courtesy message of the window that opens next ("" = use the after_hours template).
    courtesy_message: str = ""


def area_opening(
    windows: Sequence[HoursWindow], calendar: BusinessCalendar, at: datetime
) -> AreaOpening:
    raise NotImplementedError


def area_openings(area_ids: Sequence[int], at: datetime) -> dict[int, AreaOpening]:
    """Every listed area's opening at `at`, loaded in one query (plus the calendar's)."""
    raise NotImplementedError
