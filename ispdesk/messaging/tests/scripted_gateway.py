"""A scripted in-memory gateway for the sender's tests.

`scripted_kind()` registers it in the registry's KINDS under the kind `scripted` for one test
(the test modules wrap it in a `script` fixture). A connection's config names a `Script`,
which records every send (thread-safe) and answers as the test tells it: a provider id by
default, the next planned failure, or whatever `on_send` does while the "gateway" holds the
request.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from ispdesk.integrations.whatsapp import registry
from ispdesk.integrations.whatsapp.base import (
    Gateway,
    GatewayConfig,
    InboundEvent,
    SendResult,
    WebhookRequest,
)

KIND = "scripted"
SCRIPTS: dict[str, Script] = {}
_ids = itertools.count(1)


@dataclass(frozen=True)
class Sent:
    to: str
    text: str
    media_url: str
    quoted_id: str
    provider_id: str


@dataclass
class Script:
    name: str = field(default_factory=lambda: uuid.uuid4().hex)
    sends: list[Sent] = field(default_factory=list)
    # Exceptions to raise, one per send, before any send succeeds.
    failures: deque[BaseException] = field(default_factory=deque)
    # Called with the provider id about to be returned, while the gateway "holds" the call.
    on_send: Callable[[Sent], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    sent_event: threading.Event = field(default_factory=threading.Event)

    def fail_next(self, *errors: BaseException) -> None:
        self.failures.extend(errors)

    def send(self, to: str, text: str, media_url: str = "", quoted_id: str = "") -> SendResult:
        with self.lock:
            failure = self.failures.popleft() if self.failures else None
            provider_id = f"scripted-{next(_ids)}"
        if failure is not None:
            raise failure
        sent = Sent(to, text, media_url, quoted_id, provider_id)
        if self.on_send is not None:
            self.on_send(sent)
        with self.lock:
            self.sends.append(sent)
        self.sent_event.set()
        return SendResult(provider_id, to)

    def texts(self) -> list[str]:
        with self.lock:
            return [sent.text for sent in self.sends]

    def config(self) -> dict[str, Any]:
        return {"script": self.name}


class ScriptedConfig(GatewayConfig):
    script: str


class ScriptedGateway(Gateway):
    kind: ClassVar[str] = KIND
    config_class: ClassVar[type[GatewayConfig]] = ScriptedConfig
    default_rate_per_second: ClassVar[float | None] = None
    has_service_window: ClassVar[bool] = False

    config: ScriptedConfig

    def send_text(self, to: str, text: str, *, quoted_id: str = "") -> SendResult:
        return SCRIPTS[self.config.script].send(to, text, quoted_id=quoted_id)

    def send_media(
        self, to: str, url: str, *, caption: str = "", mimetype: str = "", filename: str = ""
    ) -> SendResult:
        return SCRIPTS[self.config.script].send(to, caption, media_url=url)

    def verify_webhook(self, request: WebhookRequest, url_secret_ok: bool) -> None:
        return None

    def parse_webhook(self, body: bytes) -> list[InboundEvent]:
        return []


ADAPTER = ScriptedGateway


def scripted_kind(monkeypatch: pytest.MonkeyPatch) -> Iterator[Script]:
    """Serve the `scripted` kind and a new script until the generator is closed."""
    monkeypatch.setitem(registry.KINDS, KIND, __name__)
    new = Script()
    SCRIPTS[new.name] = new
    try:
        yield new
    finally:
        SCRIPTS.pop(new.name, None)
