"""Reading a Retry-After header: seconds or an HTTP date, never negative, nonsense ignored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ispdesk.lib.http import retry_after_seconds

NOW = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("Sat, 05 Dec 2026 15:00:30 GMT", 30.0),
        ("Sat, 05 Dec 2026 14:59:00 GMT", 0.0),  # already past
        ("nan", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_it_reads_seconds_or_a_date(value, expected):
    assert retry_after_seconds(value, NOW) == expected
