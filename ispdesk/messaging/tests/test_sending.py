"""The sender's pure decisions: backoff, retry or give up, the 24-hour window, send rates,
and which status wins once the gateway accepted a message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ispdesk.messaging.sending import (
    WINDOW_CLOSED,
    GiveUp,
    Retry,
    RetryPolicy,
    after_failure,
    backoff_seconds,
    effective_rate,
    next_send_slot,
    recipient_phone,
    send_interval,
    service_window_open,
    status_after_send,
)

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=5, backoff_base_seconds=10, backoff_max_seconds=600)


def test_it_doubles_the_backoff_from_the_base_up_to_the_cap():
    delays = [backoff_seconds(attempt, 10, 600, jitter=0) for attempt in range(1, 9)]

    assert delays == [10, 20, 40, 80, 160, 320, 600, 600]


def test_it_takes_at_most_half_off_with_jitter():
    assert backoff_seconds(3, 10, 600, jitter=0.999999) > 20
    assert backoff_seconds(3, 10, 600, jitter=0.5) == 30


@given(
    attempt=st.integers(min_value=1, max_value=40),
    base=st.integers(min_value=1, max_value=3600),
    cap=st.integers(min_value=1, max_value=86400),
    earlier=st.floats(min_value=0, max_value=1, exclude_max=True),
    later=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_it_never_waits_less_on_a_later_attempt_below_the_cap(attempt, base, cap, earlier, later):
    first = backoff_seconds(attempt, base, cap, earlier)
    second = backoff_seconds(attempt + 1, base, cap, later)

    assert 0 < first <= cap
    assert 0 < second <= cap
    if base * 2**attempt <= cap:  # the second delay is not capped
        assert second > first


def test_a_jitter_a_hair_below_one_still_waits_longer_than_the_attempt_before():
    # Hypothesis found it: 2 * (1 - 0.9999999999999999 / 2) rounds to exactly 1.0.
    assert backoff_seconds(2, 1, 2, jitter=0.9999999999999999) > backoff_seconds(1, 1, 2, 0.0)


def test_it_survives_absurd_attempt_counts():
    assert backoff_seconds(10_000, 10, 600, jitter=0) == 600
    assert backoff_seconds(0, 10, 600, jitter=0) == 10


def test_it_retries_a_transient_failure_after_the_backoff():
    decision = after_failure(
        attempts=2,
        permanent=False,
        reason="Evolution API failed (502)",
        retry_after=None,
        now=NOW,
        policy=POLICY,
        jitter=0,
    )

    assert decision == Retry(NOW + timedelta(seconds=20), "Evolution API failed (502)")


def test_it_waits_as_long_as_the_gateway_asks():
    decision = after_failure(
        attempts=1,
        permanent=False,
        reason="rate limited",
        retry_after=300,
        now=NOW,
        policy=POLICY,
        jitter=0,
    )

    assert decision == Retry(NOW + timedelta(seconds=300), "rate limited")


def test_it_keeps_its_own_backoff_when_the_gateway_asks_for_less():
    decision = after_failure(
        attempts=3,
        permanent=False,
        reason="rate limited",
        retry_after=1,
        now=NOW,
        policy=POLICY,
        jitter=0,
    )

    assert isinstance(decision, Retry)
    assert decision.at == NOW + timedelta(seconds=40)


def test_it_does_not_park_a_message_for_more_than_a_day_on_a_gateways_word():
    decision = after_failure(
        attempts=1,
        permanent=False,
        reason="rate limited",
        retry_after=10**9,
        now=NOW,
        policy=POLICY,
        jitter=0,
    )

    assert isinstance(decision, Retry)
    assert decision.at == NOW + timedelta(days=1)


def test_it_gives_up_on_a_permanent_failure_at_once_with_its_reason():
    decision = after_failure(
        attempts=1,
        permanent=True,
        reason="the number has no WhatsApp",
        retry_after=None,
        now=NOW,
        policy=POLICY,
        jitter=0,
    )

    assert decision == GiveUp("the number has no WhatsApp")


def test_it_gives_up_on_a_transient_failure_at_the_attempt_limit():
    decision = after_failure(
        attempts=5,
        permanent=False,
        reason="Evolution API: timed out",
        retry_after=None,
        now=NOW,
        policy=POLICY,
        jitter=0,
    )

    assert decision == GiveUp("gave up after 5 attempts: Evolution API: timed out")


def test_the_window_is_open_for_24_hours_after_the_customers_last_message():
    assert service_window_open(NOW - timedelta(hours=23, minutes=59), NOW)
    assert service_window_open(NOW, NOW)
    assert not service_window_open(NOW - timedelta(hours=24), NOW)
    assert not service_window_open(NOW - timedelta(days=3), NOW)


def test_the_window_is_closed_for_someone_who_never_wrote():
    assert not service_window_open(None, NOW)


def test_the_window_reason_tells_the_operator_what_to_do():
    assert "24-hour" in WINDOW_CLOSED
    assert "template" in WINDOW_CLOSED


def test_the_connections_own_rate_wins_over_the_kinds_default():
    assert effective_rate(5.0, 1.0) == 5.0
    assert effective_rate(None, 1.0) == 1.0
    assert effective_rate(None, 80) == 80


def test_a_rate_of_zero_or_none_is_unlimited():
    assert effective_rate(0, 1.0) is None
    assert effective_rate(None, None) is None
    assert send_interval(None) is None
    assert send_interval(0) is None


def test_the_send_interval_is_the_inverse_of_the_rate():
    assert send_interval(1) == timedelta(seconds=1)
    assert send_interval(2) == timedelta(milliseconds=500)
    assert send_interval(80) == timedelta(microseconds=12500)
    assert send_interval(0.1) == timedelta(seconds=10)


def test_the_next_slot_starts_at_the_later_of_now_and_the_current_slot():
    second = timedelta(seconds=1)

    assert next_send_slot(NOW, None, second) == NOW + second
    assert next_send_slot(NOW, NOW - timedelta(minutes=5), second) == NOW + second
    assert next_send_slot(NOW, NOW + second, second) == NOW + 2 * second


def test_a_sent_message_moves_forward_only():
    assert status_after_send("queued") == "sent"
    assert status_after_send("sending") == "sent"
    assert status_after_send("delivered") == "delivered"
    assert status_after_send("read") == "read"


def test_a_receipt_stored_on_an_echo_carries_over():
    assert status_after_send("sending", "delivered") == "delivered"
    assert status_after_send("sending", "read") == "read"
    assert status_after_send("read", "delivered") == "read"


def test_a_failure_stays_final():
    assert status_after_send("failed") == "failed"
    assert status_after_send("sending", "failed") == "failed"


def test_it_reads_recipients_written_as_numbers_or_chat_ids():
    assert recipient_phone("+5491123456789") == "+5491123456789"
    assert recipient_phone("5491123456789") == "+5491123456789"
    assert recipient_phone("5491123456789@s.whatsapp.net") == "+5491123456789"
    assert recipient_phone("011 15 2345-6789") == "+5491123456789"
    assert recipient_phone("123456789012345@lid") is None
    assert recipient_phone("not a number") is None
