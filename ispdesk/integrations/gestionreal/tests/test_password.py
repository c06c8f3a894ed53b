"""The daily password follows Argentina's calendar, not UTC's."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from ispdesk.integrations.gestionreal.client import basic_auth, daily_password
from ispdesk.integrations.gestionreal.mapping import ARGENTINA

CUIT = "30712345671"
SECRET = "clave"


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def test_it_is_the_md5_of_cuit_secret_and_the_argentine_date() -> None:
    now = datetime(2026, 11, 25, 15, 0, tzinfo=ARGENTINA)
    assert daily_password(CUIT, SECRET, now) == md5("30712345671clave2026-11-25")


def test_it_rotates_at_argentine_midnight_while_utc_is_already_the_next_day() -> None:
    before = datetime(2026, 11, 25, 23, 59, tzinfo=ARGENTINA)
    after = datetime(2026, 11, 26, 0, 1, tzinfo=ARGENTINA)
    # Both instants are on 26 November in UTC (ART is UTC-3)...
    assert before.astimezone(UTC).date() == after.astimezone(UTC).date()
    # ...yet the passwords differ: the date that counts is Argentina's.
    assert daily_password(CUIT, SECRET, before) == md5(f"{CUIT}{SECRET}2026-11-25")
    assert daily_password(CUIT, SECRET, after) == md5(f"{CUIT}{SECRET}2026-11-26")


def test_it_takes_the_argentine_date_of_a_utc_instant() -> None:
    # 02:30 UTC on the 26th is still 23:30 on the 25th in Buenos Aires.
    now = datetime(2026, 11, 26, 2, 30, tzinfo=UTC)
    assert daily_password(CUIT, SECRET, now) == md5(f"{CUIT}{SECRET}2026-11-25")


def test_it_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        daily_password(CUIT, SECRET, datetime(2026, 11, 25, 12, 0))


def test_basic_auth_puts_the_cuit_as_the_user() -> None:
    assert basic_auth("30712345671", "abc") == "Basic MzA3MTIzNDU2NzE6YWJj"
