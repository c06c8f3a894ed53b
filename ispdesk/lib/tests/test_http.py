import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
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


def test_only_a_request_that_left_in_full_is_marked_as_maybe_received():
    from ispdesk.lib.http import _maybe_received

    assert _maybe_received("POST", httpx.ReadTimeout("slow"))
    assert not _maybe_received("POST", httpx.ConnectTimeout("no route"))
    assert not _maybe_received("GET", httpx.ReadTimeout("slow"))


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
