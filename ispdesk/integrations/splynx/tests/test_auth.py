"""The three authentication schemes against the fake Splynx, which verifies each."""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from urllib.parse import parse_qsl

import pytest

from ispdesk.integrations.splynx.auth import NonceCounter, next_nonce, signature
from ispdesk.integrations.splynx.client import SplynxClient
from ispdesk.integrations.splynx.errors import SplynxError
from ispdesk.testing.fakes.splynx import API_SECRET, PASSWORD, FakeSplynx


def test_it_signs_every_call_with_the_api_key(fake_splynx: FakeSplynx) -> None:
    client = fake_splynx.client("api_key")
    assert [admin.login for admin in client.administrators()] == ["ana", "juan"]
    assert len(client.ticket_statuses()) == 4
    header = fake_splynx.requests[-1].headers["authorization"]
    assert header.startswith("Splynx-EA (key=") and "signature=" in header
    assert fake_splynx.logins == 0


def test_it_matches_the_documented_signature() -> None:
    # UPPER(hex(HMAC_SHA256(secret, nonce + key))), computed independently.
    expected = hmac.new(b"s", b"1k", hashlib.sha256).hexdigest().upper()
    assert signature("k", "s", 1) == expected


def test_it_keeps_nonces_increasing_across_threads() -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(200):
            nonce = next_nonce("threads-key", lambda: 1_000.0)
            with lock:
                seen.append(nonce)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 800
    assert sorted(seen) == list(range(100_000, 100_800))


def test_it_refuses_a_wrong_api_secret_with_a_clear_permanent_error(
    fake_splynx: FakeSplynx,
) -> None:
    client = fake_splynx.client("api_key", api_secret="wrong-secret-value")
    with pytest.raises(SplynxError) as caught:
        client.administrators()
    assert caught.value.permanent and caught.value.status == 401
    assert caught.value.reason == "credentials"
    assert "wrong-secret-value" not in str(caught.value)


def test_it_uses_basic_auth(fake_splynx: FakeSplynx) -> None:
    client = fake_splynx.client("basic")
    assert len(client.administrators()) == 2
    assert fake_splynx.requests[-1].headers["authorization"].startswith("Basic ")


def test_it_fails_basic_auth_when_unsecure_access_is_off(fake_splynx: FakeSplynx) -> None:
    fake_splynx.allow_basic = False
    with pytest.raises(SplynxError) as caught:
        fake_splynx.client("basic").administrators()
    assert caught.value.reason == "credentials"


def test_it_logs_in_once_and_reuses_the_access_token(fake_splynx: FakeSplynx) -> None:
    client = fake_splynx.client("admin")
    client.administrators()
    client.ticket_groups()
    client.ticket_types()
    assert fake_splynx.logins == 1
    login = fake_splynx.requests_to("/admin/auth/tokens", "POST")[0].json
    assert login == {"auth_type": "admin", "login": "api-admin", "password": PASSWORD}
    assert "access_token=" in fake_splynx.requests[-1].headers["authorization"]


def test_it_gets_a_token_with_the_api_key_signature(fake_splynx: FakeSplynx) -> None:
    client = fake_splynx.client("api_key", api_key_token=True)
    client.administrators()
    client.administrators()
    login = fake_splynx.requests_to("/admin/auth/tokens", "POST")[0].json
    assert login["auth_type"] == "api_key" and "signature" in login
    assert fake_splynx.logins == 1


class _Clock:
    """A wall clock shared by two "processes", standing still until someone sleeps."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _process(fake: FakeSplynx, clock: _Clock, **overrides: object) -> SplynxClient:
    # Its own nonce counter, as a separate worker process has.
    return SplynxClient(
        fake.settings("api_key", **overrides),
        clock=clock.time,
        sleep=clock.sleep,
        nonces=NonceCounter(),
    )


@pytest.mark.parametrize("tokens", [False, True], ids=["signed-calls", "token-login"])
def test_two_processes_signing_in_the_same_centisecond_both_get_through(
    fake_splynx: FakeSplynx, tokens: bool
) -> None:
    clock = _Clock()
    first, second = (_process(fake_splynx, clock, api_key_token=tokens) for _ in range(2))
    assert len(first.administrators()) == 2
    # Same key, same centisecond, same nonce: Splynx refuses the second one once, and the
    # second process signs again after a pause.
    assert len(second.administrators()) == 2
    taken, refused, again = _nonces(fake_splynx)
    assert taken == refused < again


def _nonces(fake: FakeSplynx) -> list[int]:
    found = []
    for request in fake.requests:
        header = request.headers.get("authorization", "")
        signed = dict(parse_qsl(header[len("Splynx-EA (") : -1]))
        body = request.json if isinstance(request.json, dict) else {}
        nonce = body.get("nonce") or signed.get("nonce")
        if nonce is not None:
            found.append(int(nonce))
    return found


def test_a_wrong_secret_is_still_refused_after_the_one_fresh_signature(
    fake_splynx: FakeSplynx,
) -> None:
    clock = _Clock()
    client = _process(fake_splynx, clock, api_secret="wrong-secret-value")
    with pytest.raises(SplynxError) as caught:
        client.administrators()
    assert caught.value.reason == "credentials"
    first, second = _nonces(fake_splynx)
    assert second > first


def test_it_refreshes_the_token_before_it_expires(fake_splynx: FakeSplynx) -> None:
    # Tokens live 5 s and the client renews 10 s ahead: every later call refreshes first.
    fake_splynx.token_lifetime = 5
    client = fake_splynx.client("admin")
    client.administrators()
    client.administrators()
    client.administrators()
    assert fake_splynx.logins == 3  # one login plus two refreshes (a refresh issues tokens)
    assert fake_splynx.refreshes == 2
    assert len(fake_splynx.requests_to("/admin/auth/tokens", "POST")) == 1
    # No call was refused on the way.
    assert all(
        r.path.endswith("administrators") or "tokens" in r.path for r in fake_splynx.requests
    )


def test_it_logs_in_again_once_when_the_token_is_refused(fake_splynx: FakeSplynx) -> None:
    client = fake_splynx.client("admin")
    client.administrators()
    fake_splynx.expire_tokens()
    assert len(client.administrators()) == 2
    assert len(fake_splynx.requests_to("/admin/auth/tokens", "POST")) == 2


def test_it_gives_up_with_a_clear_error_after_the_second_refusal(fake_splynx: FakeSplynx) -> None:
    client = fake_splynx.client("admin")
    client.administrators()
    fake_splynx.fail_next("unauthorized", times=2, path="administrators")
    with pytest.raises(SplynxError) as caught:
        client.administrators()
    assert caught.value.permanent and caught.value.status == 401
    assert caught.value.message == "Splynx rejected the credentials."
    assert len(fake_splynx.requests_to("/admin/auth/tokens", "POST")) == 2


def test_it_reports_a_wrong_password_without_showing_it(
    fake_splynx: FakeSplynx, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = fake_splynx.client("admin", password="not-the-password-123")
    with pytest.raises(SplynxError) as caught:
        client.administrators()
    assert caught.value.reason == "credentials"
    assert "not-the-password-123" not in str(caught.value)
    assert "not-the-password-123" not in caplog.text


def test_no_secret_or_token_reaches_a_log_line_or_an_error(
    fake_splynx: FakeSplynx, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_splynx.token_lifetime = 5
    client = fake_splynx.client("admin")
    client.administrators()
    client.administrators()  # refreshes: the refresh token is in that URL's path
    client.logout()
    fake_splynx.fail_next("server_error", times=5, path="administrators")
    with pytest.raises(SplynxError) as caught:
        client.administrators()
    assert fake_splynx.refreshes >= 1
    texts = [caplog.text, str(caught.value)]
    for secret in (PASSWORD, API_SECRET, *fake_splynx.issued):
        assert all(secret not in text for text in texts)
    assert "/admin/auth/tokens/***" in caplog.text
