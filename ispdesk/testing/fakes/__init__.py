"""Local fakes of the systems ispdesk talks to, for tests: real HTTP servers on free ports,
in threads. WhatsApp gateways are below; the ticket pipeline's are `fake_splynx`
(`ispdesk.testing.fakes.splynx`: Splynx API 2.0, its three auth schemes, expiring tokens,
string-typed fields, paging, and a create that succeeds but times out) and
`fake_gestionreal` (`ispdesk.testing.fakes.gestionreal`: the daily-password JSON API).

- `fake_evolution` (`ispdesk.testing.fakes.evolution`): Evolution API v2.
- `fake_wppconnect` (`ispdesk.testing.fakes.wppconnect`): WPPConnect Server.
- `webhook_sink`: a server that records what is POSTed to it (answers 200, or `.status`).
- `fake_graph` (`ispdesk.testing.fakes.graph`): the Cloud API's Graph endpoints.

Pytest finds fixtures only where they are defined or imported, so import the ones a test
module (or a conftest.py beside it) uses; ruff then sees each test argument of that name as
a redefinition, so mark those tests `# noqa: F811` (or import in a conftest.py, or wrap
`serving_fake_evolution()` / `serving_fake_wppconnect()` in a fixture of your own name):

    from ispdesk.testing.fakes import fake_evolution, fake_wppconnect  # noqa: F401

    def test_it_delivers(fake_evolution, live_asgi):  # noqa: F811
        gateway = registry.build("evolution", fake_evolution.config())
        gateway.connect(f"{live_asgi.url}/hooks/whatsapp/<secret>/")  # registers the webhook
        fake_evolution.deliver_text("+5491123456789", "hola")  # POSTs messages.upsert to it
        gateway.send_text("+5491123456789", "respuesta")
        assert fake_evolution.wait_for_messages(1)[0]["text"] == "respuesta"

The Evolution and WPPConnect fakes share one API (see `server.FakeServer`):
- `config(**overrides)`: the connection config dict for `registry.build(kind, ...)`;
  `gateway(timeout=...)`: the adapter with a short HTTP timeout (for "hang" tests).
- `accepted`: the send bodies the gateway accepted, each with its provider "id";
  `wait_for_messages(n, timeout=10)`: those, once there are n (TimeoutError otherwise).
- `requests`: every request (`RecordedRequest`: method, path, query, lower-cased headers,
  body bytes, json); `requests_to(path_suffix, method=None)`; `paths()` → ["POST /x", …].
- `fail_next(name, times=1, retry_after=None, path="")`: the next send calls (or calls whose
  path contains `path`; "/" for any) fail with `name`: "unknown_number", "unauthorized",
  "session_down", "server_error", "rate_limited" (429 + Retry-After), "hang" (held until
  `release()` or teardown, then 504); Evolution also "connection_closed".
- `scan_qr()`: the phone scanned the QR. `webhook_url()`: the webhook the app registered.
- `deliver(body, url=None)`: POST a webhook body to `url` or to the registered webhook,
  returning the httpx response; `deliver_text(sender, text, ...)` builds a text message.
  Module-level builders make every inbound shape (see each module's docstring).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ispdesk.testing.fakes.evolution import FakeEvolution, fake_evolution
from ispdesk.testing.fakes.server import RecordedRequest, WebhookSink, serving
from ispdesk.testing.fakes.wppconnect import FakeWppConnect, fake_wppconnect


@pytest.fixture
def webhook_sink() -> Iterator[WebhookSink]:
    with serving(WebhookSink()) as sink:
        yield sink


__all__ = [
    "FakeEvolution",
    "FakeWppConnect",
    "RecordedRequest",
    "WebhookSink",
    "fake_evolution",
    "fake_wppconnect",
    "webhook_sink",
]
