import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ispdesk.lib.http import HttpClient, HttpError, redact_url


def test_it_hides_credentials_in_queries_and_given_secrets():
    url = "https://gw.example/api/isp1/S3cr3tV4lue/generate-token?apikey=abc123&x=1"
    assert redact_url(url, ("S3cr3tV4lue",)) == (
        "https://gw.example/api/isp1/***/generate-token?apikey=***&x=1"
    )


def test_a_short_secret_is_hidden_without_garbling_other_words():
    assert redact_url("POST /api/s/s/start", ("s",)) == "POST /api/***/***/start"


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._answer(b'{"ok": true}')

    def _answer(self, body: bytes, *headers: tuple[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def echo_server() -> Iterator[str]:
    yield from _serving(_Echo)


def test_it_logs_method_url_status_and_never_the_secret(echo_server, caplog):
    client = HttpClient(base_url=echo_server, secrets=("tok3n-value",))
    with caplog.at_level(logging.INFO, logger="ispdesk.http"):
        response = client.request("GET", "/path/tok3n-value/x")
    assert response.json() == {"ok": True}
    assert "GET" in caplog.text and "-> 200" in caplog.text
    assert "tok3n-value" not in caplog.text


def test_a_refused_connection_is_an_http_error_naming_no_secret():
    client = HttpClient(base_url="http://127.0.0.1:1", secrets=("tok3n-value",), timeout=2)
    with pytest.raises(HttpError) as caught:
        client.request("GET", "/tok3n-value")
    assert "tok3n-value" not in str(caught.value)
    assert caught.value.timeout is False


def test_access_log_lines_never_show_a_webhook_secret():
    from ispdesk.lib.logfilters import RedactHookSecrets

    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", "/hooks/whatsapp/Zx9-secret_Value/?a=1", "1.1", 200),
        None,
    )  # fmt: skip
    assert RedactHookSecrets().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "POST /hooks/whatsapp/***/?a=1 HTTP/1.1" 200'


def test_accepted_webhook_deliveries_leave_no_access_log_line_refused_ones_do(caplog):
    # The logger as settings.LOGGING configures it, called as uvicorn calls it.
    access = logging.getLogger("uvicorn.access")
    requests = [
        ("POST", "/hooks/whatsapp/s3cret/", 200),
        ("POST", "/hooks/whatsapp/s3cret/messages-upsert?x=1", 200),
        ("POST", "/hooks/whatsapp/s3cret/", 403),
        ("POST", "/hooks/whatsapp/s3cret/", 503),
        ("GET", "/hooks/whatsapp/s3cret/?hub.mode=subscribe", 200),
        ("POST", "/api/conversations/1/reply", 200),
    ]
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        for method, path, status in requests:
            access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", method, path, "1.1", status)
    logged = [(record.args[1], record.args[4]) for record in caplog.records]  # type: ignore[index]
    assert logged == [("POST", 403), ("POST", 503), ("GET", 200), ("POST", 200)]
    assert caplog.records[-1].args[2] == "/api/conversations/1/reply"  # type: ignore[index]


def test_a_secret_placed_in_a_url_path_is_hidden_in_its_encoded_form_too():
    url = "http://gw/api/s/Zm9v%2BYmFy%2FcXV4%3D/generate-token"
    assert redact_url(url, ("Zm9v+YmFy/cXV4=",)) == "http://gw/api/s/***/generate-token"


class _Silent(_Echo):
    """Reads the request, then answers nothing (and hangs up when `hang_up`)."""

    protocol_version = "HTTP/1.1"
    hang_up = False

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.hang_up:
            time.sleep(1)  # the server's silence, longer than the client's timeout
        self.close_connection = True

    do_GET = do_POST


class _HangsUp(_Silent):
    hang_up = True


@pytest.fixture
def silent_server() -> Iterator[str]:
    yield from _serving(_Silent)


@pytest.fixture
def hanging_up_server() -> Iterator[str]:
    yield from _serving(_HangsUp)


def test_a_post_left_in_full_and_never_answered_may_have_been_received(silent_server):
    client = HttpClient(base_url=silent_server, timeout=0.3)

    with pytest.raises(HttpError) as posted:
        client.request("POST", "/send", json={"text": "hola"})
    with pytest.raises(HttpError) as got:
        client.request("GET", "/status")

    assert posted.value.timeout and posted.value.maybe_received
    assert got.value.timeout and not got.value.maybe_received


def test_a_connection_dropped_after_a_post_left_may_have_been_received(hanging_up_server):
    client = HttpClient(base_url=hanging_up_server, timeout=5)

    with pytest.raises(HttpError) as posted:
        client.request("POST", "/send", json={"text": "hola"})

    assert posted.value.maybe_received and not posted.value.timeout


def test_a_refused_connection_was_never_received():
    client = HttpClient(base_url="http://127.0.0.1:1", timeout=2)

    with pytest.raises(HttpError) as posted:
        client.request("POST", "/send", json={"text": "hola"})

    assert not posted.value.maybe_received and not posted.value.timeout


class _KeepAlive(_Echo):
    """HTTP/1.1 with keep-alive; answers with the client's port and the cookies it sent,
    and sets a session cookie."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        port = self.client_address[1]
        cookie = self.headers.get("Cookie", "")
        body = f'{{"port": {port}, "cookie": "{cookie}"}}'.encode()
        self._answer(body, ("Set-Cookie", "session=abc123; Path=/"))


@pytest.fixture
def keep_alive_server() -> Iterator[str]:
    yield from _serving(_KeepAlive)


def test_calls_from_one_thread_reuse_the_connection_and_never_carry_cookies(keep_alive_server):
    answers = [HttpClient(base_url=keep_alive_server).request("GET", "/").json() for _ in range(3)]

    # One TCP connection (the same client port) for the three calls, as many clients share it.
    assert len({answer["port"] for answer in answers}) == 1
    # The server's cookie is never sent back: calls stay independent of each other.
    assert [answer["cookie"] for answer in answers] == ["", "", ""]


def test_each_thread_has_its_own_connections(keep_alive_server):
    ports: list[int] = []

    def call() -> None:
        ports.append(HttpClient(base_url=keep_alive_server).request("GET", "/").json()["port"])

    call()
    other = threading.Thread(target=call)
    other.start()
    other.join()

    assert len(set(ports)) == 2


class _Mirror(_Echo):
    """Answers with what it received: method, path, the headers named, the body."""

    protocol_version = "HTTP/1.1"
    charset = "utf-8"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        seen = {
            "method": self.command,
            "path": self.path,
            "content_type": self.headers.get("Content-Type"),
            "token": self.headers.get("X-Token"),
            "body": body.decode(),
        }
        answer = json.dumps(seen, ensure_ascii=False).encode(self.charset)
        self._answer(answer)

    do_GET = do_POST
    do_PUT = do_POST

    def _answer(self, body: bytes, *headers: tuple[str, str]) -> None:
        self.send_response(201)
        self.send_header("Content-Type", f"application/json; charset={self.charset}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def mirror() -> Iterator[str]:
    yield from _serving(_Mirror)


def test_json_params_and_headers_travel_as_the_vendors_expect(mirror):
    client = HttpClient(base_url=mirror + "/api/", headers={"X-Token": "base"})

    response = client.request(
        "POST",
        "/items?fixed=1",
        json={"text": "¿Hola? ñandú"},
        params={"active": True, "deleted": False, "none": None, "id": [3, 4], "q": "a b&c"},
        headers={"x-token": "call"},
    )

    assert response.status_code == 201 and response.is_success
    seen = response.json()
    assert seen["method"] == "POST"
    assert seen["path"] == (
        "/api/items?fixed=1&active=true&deleted=false&none=&id=3&id=4&q=a+b%26c"
    )
    assert seen["content_type"] == "application/json"
    assert seen["token"] == "call"  # the call's header wins over the client's, in any case
    assert json.loads(seen["body"]) == {"text": "¿Hola? ñandú"}


def test_raw_content_goes_as_given(mirror):
    response = HttpClient(base_url=mirror).request(
        "PUT", "/raw", content=b"a=1", headers={"Content-Type": "text/plain"}
    )

    assert response.json()["body"] == "a=1"
    assert response.json()["content_type"] == "text/plain"
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["Content-Type"] == response.headers["content-type"]


def test_text_follows_the_charset_the_answer_names():
    from ispdesk.lib.http import HttpResponse

    latin = HttpResponse(
        200, {"content-type": "text/plain; charset=latin-1"}, "ñ".encode("latin-1")
    )
    unnamed = HttpResponse(200, {}, "ñ".encode())
    unknown = HttpResponse(200, {"content-type": "text/plain; charset=x-nope"}, b"\xff ok")

    assert latin.text == "ñ"
    assert unnamed.text == "ñ"
    assert unknown.text == "\ufffd ok"


def test_an_answer_that_is_not_json_raises_value_error(echo_server):
    from ispdesk.lib.http import HttpResponse

    with pytest.raises(ValueError):
        HttpResponse(200, {}, b"<html>").json()


def test_an_idle_connection_is_not_reused_after_the_keepalive_time(keep_alive_server, monkeypatch):
    from ispdesk.lib import http

    client = HttpClient(base_url=keep_alive_server)
    first = client.request("GET", "/").json()["port"]
    clock = time.monotonic()
    monkeypatch.setattr(http.time, "monotonic", lambda: clock + http.KEEPALIVE_SECONDS + 1)

    second = client.request("GET", "/").json()["port"]

    assert first != second


def test_a_proxy_named_by_the_environment_is_used_and_no_proxy_is_honoured(mirror, monkeypatch):
    # The mirror plays the proxy: a request through an HTTP proxy names the whole URL.
    monkeypatch.setenv("HTTP_PROXY", mirror)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setattr("ispdesk.lib.http._pooled", threading.local())

    proxied = HttpClient(base_url="http://gateway.example:8080").request("GET", "/x?a=1")

    direct = HttpClient(base_url=mirror).request("GET", "/y")

    assert proxied.json()["path"] == "http://gateway.example:8080/x?a=1"
    assert direct.json()["path"] == "/y"
