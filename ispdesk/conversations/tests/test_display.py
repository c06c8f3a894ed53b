"""What the console writes for a list row, worked out in Python: the same words and times the
template filters wrote before (`date`, `time`, `timesince`, `blocktranslate count`)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.template import defaultfilters
from django.utils import timezone, translation

from ispdesk.conversations.display import list_rows, stamp, url_maker
from ispdesk.conversations.models import ConversationStatus
from ispdesk.conversations.tests.conftest import make_contact, make_conversation

BUENOS_AIRES = zoneinfo.ZoneInfo("America/Argentina/Buenos_Aires")
NOON = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # 12:00 in Buenos Aires


@pytest.fixture(autouse=True)
def _buenos_aires() -> Any:
    with timezone.override(BUENOS_AIRES), translation.override("es-ar"):
        yield


def test_a_moment_of_today_shows_its_local_hour():
    written = stamp(datetime(2026, 3, 10, 13, 5, tzinfo=UTC), date(2026, 3, 10))
    assert written.iso == "2026-03-10T10:05:00-03:00"
    assert written.short == "10:05"


def test_a_moment_of_another_local_day_shows_its_day_even_on_the_same_utc_date():
    late_last_night = datetime(2026, 3, 10, 2, 30, tzinfo=UTC)  # 23:30 on the 9th, locally
    written = stamp(late_last_night, date(2026, 3, 10))
    assert written.iso == "2026-03-09T23:30:00-03:00"
    assert written.short == "09/03"


@pytest.mark.parametrize("language", ["es-ar", "en"])
def test_the_tooltip_is_what_the_date_filter_writes(language):
    value = datetime(2026, 3, 9, 23, 30, tzinfo=UTC)
    with translation.override(language):
        written = stamp(value)
        expected = defaultfilters.date(timezone.localtime(value), "DATETIME_FORMAT")
    assert written.title == expected
    assert written.short == "20:30"  # no day given: always the hour, as chat lines show


def test_a_url_for_any_id_comes_from_one_reverse():
    url = url_maker("desk_chat")
    assert [url(7), url(2_000_000)] == ["/desk/c/7/", "/desk/c/2000000/"]


def test_a_waiting_row_says_how_long_and_an_unread_one_how_many(db, soporte):
    waiting = make_conversation(
        make_contact("Pedro", "+5491100000011"),
        ConversationStatus.PENDING,
        soporte,
        now=NOON - timedelta(minutes=20),
    )
    unread = make_conversation(
        make_contact("Rosa", "+5491100000012"), ConversationStatus.BOT, unread_count=3, now=NOON
    )
    with translation.override("en"):
        first, second = list_rows([waiting, unread], NOON)

    assert first.url == f"/desk/c/{waiting.pk}/"
    assert (first.waited, first.queued_iso) == ("20\xa0minutes", "2026-03-10T11:40:00-03:00")
    assert (first.status_label, first.unread_label) == ("Waiting in queue", "")
    assert (second.waited, second.queued_iso) == ("", "")
    assert second.unread_label == "3 unread messages"
    assert second.stamp.short == "12:00"
