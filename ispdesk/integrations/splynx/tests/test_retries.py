"""Retries of timeouts, 5xx and 429, their limits, and the create that timed out."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from ispdesk.integrations.splynx.client import SplynxClient
from ispdesk.integrations.splynx.errors import SplynxError
from ispdesk.testing.fakes.splynx import FakeSplynx


def _client(fake: FakeSplynx, waits: list[float], **overrides: Any) -> SplynxClient:
    return SplynxClient(fake.settings(**overrides), sleep=waits.append)


def test_it_retries_a_server_error_with_growing_backoff(fake_splynx: FakeSplynx) -> None:
    waits: list[float] = []
    fake_splynx.fail_next("server_error", times=2)
    client = _client(fake_splynx, waits, backoff=0.5, max_attempts=3)
    assert len(client.administrators()) == 2
    assert waits == [0.5, 1.0]


def test_it_stops_after_the_last_attempt_with_a_retryable_error(fake_splynx: FakeSplynx) -> None:
    waits: list[float] = []
    fake_splynx.fail_next("server_error", times=5)
    with pytest.raises(SplynxError) as caught:
        _client(fake_splynx, waits, max_attempts=3).administrators()
    assert (caught.value.permanent, caught.value.status) == (False, 500)
    assert len(fake_splynx.requests_to("administrators")) == 3
    assert len(waits) == 2


def test_it_honours_retry_after_but_caps_it(fake_splynx: FakeSplynx) -> None:
    waits: list[float] = []
    fake_splynx.fail_next("rate_limited", retry_after=2)
    fake_splynx.fail_next("rate_limited", retry_after=3600)
    client = _client(fake_splynx, waits, max_retry_after=30)
    assert len(client.administrators()) == 2
    assert waits == [2.0, 30.0]


def test_it_retries_a_timed_out_read(fake_splynx: FakeSplynx) -> None:
    waits: list[float] = []
    fake_splynx.fail_next("hang")
    client = _client(fake_splynx, waits, timeout=0.3)
    assert len(client.administrators()) == 2
    assert len(waits) == 1


def test_it_says_timeout_when_every_attempt_times_out(fake_splynx: FakeSplynx) -> None:
    fake_splynx.fail_next("hang", times=2)
    with pytest.raises(SplynxError) as caught:
        _client(fake_splynx, [], timeout=0.3, max_attempts=2).administrators()
    assert caught.value.reason == "timeout" and not caught.value.permanent


def test_it_says_cannot_connect_when_nothing_listens() -> None:
    client = SplynxClient(
        FakeSplynx().settings(base_url="http://127.0.0.1:9", max_attempts=2),
        sleep=lambda seconds: None,
    )
    with pytest.raises(SplynxError) as caught:
        client.administrators()
    assert caught.value.reason == "connect" and "127.0.0.1" in caught.value.message


def test_a_create_that_timed_out_is_not_repeated_but_can_be_found(
    fake_splynx: FakeSplynx,
) -> None:
    started = datetime.now() - timedelta(seconds=2)
    fake_splynx.fail_next("create_then_hang", path="admin/support/tickets")
    client = _client(fake_splynx, [], timeout=0.5)
    with pytest.raises(SplynxError) as caught:
        client.create_ticket(customer_id=5, subject="Sin servicio")
    assert caught.value.maybe_created and not caught.value.permanent
    assert len(fake_splynx.requests_to("admin/support/tickets", "POST")) == 1
    assert len(fake_splynx.tickets) == 1  # Splynx stored it
    found = client.find_ticket(customer_id=5, subject="Sin servicio", created_after=started)
    assert found is not None and found.id == next(iter(fake_splynx.tickets))


def test_a_bad_gateway_on_create_may_hide_a_ticket(fake_splynx: FakeSplynx) -> None:
    fake_splynx.fail_next("bad_gateway", path="admin/support/tickets")
    with pytest.raises(SplynxError) as caught:
        _client(fake_splynx, []).create_ticket(customer_id=5, subject="x")
    assert caught.value.maybe_created and caught.value.status == 502
    assert len(fake_splynx.requests_to("admin/support/tickets", "POST")) == 1


def test_a_server_error_on_create_is_not_sent_again_blindly(fake_splynx: FakeSplynx) -> None:
    # Splynx may fail after storing the ticket: the caller looks it up before any retry.
    fake_splynx.fail_next("server_error", path="admin/support/tickets")
    with pytest.raises(SplynxError) as caught:
        _client(fake_splynx, []).create_ticket(customer_id=5, subject="x")
    assert caught.value.maybe_created and caught.value.status == 500
    assert len(fake_splynx.requests_to("admin/support/tickets", "POST")) == 1


def test_an_html_answer_is_an_unexpected_answer(fake_splynx: FakeSplynx) -> None:
    fake_splynx.fail_next("not_json")
    with pytest.raises(SplynxError) as caught:
        _client(fake_splynx, []).administrators()
    assert caught.value.reason == "unexpected" and caught.value.permanent
