"""A local Gestión Real API for tests: real HTTP on a free port, in a thread.

    from ispdesk.testing.fakes.gestionreal import fake_gestionreal  # noqa: F401

    def test_it_pages(fake_gestionreal):
        fake_gestionreal.add_casos(250)
        client = fake_gestionreal.client()
        assert len(list(client.casos("crea", date(2026, 11, 1)))) == 250

One endpoint, `POST /` with a JSON body `{"action": …}` (PROTOCOLS.md). Every call needs HTTP
Basic with `fake_gestionreal.cuit` as user and the day's password computed with the fake's
own clock (`fake_gestionreal.now`, settable: a client whose clock disagrees across Argentine
midnight is refused); otherwise it answers `{"error": 90, "status": "No tiene Acceso"}`.
Actions: `casos` (`fecha_tipo` crea|modi, `fecha_desde` DD-MM-YYYY, `offset`) → pages of
100 with `offset` and `cantidad`; `caso` (`caso_id`); `cliente` (`cliente_id`, or
`tipo_documento` + `nro_documento`). Unknown case or customer → error 2; unknown action → 1.
Cases and customers are plain dicts in `casos` / `clientes`, as the API answers them.

Paging quirks of other installations: `ignore_offset = True` answers every `casos` call with
the first page; `cantidad_is_total = True` puts the query's total in `cantidad` instead of
the page's count. `unavailable_actions` (a set of action names) answers those actions 503
for as long as they are in it, while the others work.

Failures: `fail_next(name, times=1, retry_after=None)` on the next calls: "server_error"
(500), "unavailable" (503), "rate_limited" (429, with Retry-After when given), "not_json"
(200 with an HTML page), or "hang" (no answer until `release()` or teardown).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

import pytest

from ispdesk.integrations.gestionreal.client import (
    GestionRealClient,
    GestionRealSettings,
    daily_password,
)
from ispdesk.integrations.gestionreal.mapping import ARGENTINA
from ispdesk.testing.fakes.server import Answer, FakeServer, RecordedRequest, json_answer, serving

CUIT = "30712345671"
SECRET = "s3cr3t-del-isp"  # noqa: S105 - the fake's test credential
PAGE = 100


class FakeGestionReal(FakeServer):
    name: ClassVar[str] = "gestionreal"
    failures: ClassVar[tuple[str, ...]] = (
        "server_error",
        "unavailable",
        "rate_limited",
        "not_json",
    )
    send_path_parts: ClassVar[tuple[str, ...]] = ("/",)

    def __init__(self, cuit: str = CUIT, secret: str = SECRET) -> None:
        super().__init__()
        self.cuit = cuit
        self.secret = secret
        self.now: datetime | None = None  # None: the real clock
        self.casos: list[dict[str, Any]] = []
        self.clientes: list[dict[str, Any]] = []
        self.ignore_offset = False
        self.cantidad_is_total = False
        self.unavailable_actions: set[str] = set()
        self._lock = threading.Lock()
        # Backoff waits the clients from `client()` asked for (they never really wait).
        self.sleeps: list[float] = []

    # ---- setup -------------------------------------------------------------------------------

    def clock(self) -> datetime:
        return self.now or datetime.now(UTC)

    def password(self) -> str:
        return daily_password(self.cuit, self.secret, self.clock())

    def settings(self, **overrides: Any) -> GestionRealSettings:
        values: dict[str, Any] = {
            "cuit": self.cuit,
            "secret": self.secret,
            "base_url": self.url + "/",
            "timeout": 5.0,
            "backoff": 0.0,
        }
        return GestionRealSettings(**{**values, **overrides})

    def client(self, **overrides: Any) -> GestionRealClient:
        """A client for this fake that never waits between retries (`sleeps` records asks)."""
        return GestionRealClient(
            self.settings(**overrides), now=self.clock, sleep=self.sleeps.append
        )

    def add_caso(self, **fields: Any) -> dict[str, Any]:
        number = self.next_number()
        created = self.clock().astimezone(ARGENTINA) - timedelta(hours=1)
        caso: dict[str, Any] = {
            "id": str(50000 + number),
            "cliente_id": str(4000 + number),
            "asunto": f"Sin se&ntilde;al #{number}",
            "estado": "Abierto",
            "fecha_creacion": created.strftime("%d-%m-%Y %H:%M:%S"),
            "creado_por": "jperez",
            "ultima_modif": created.strftime("%d-%m-%Y %H:%M:%S"),
            "modificado_por": "jperez",
            "asignado_a": "3",
            "ordenes_de_servicio": [],
            **fields,
        }
        with self._lock:
            self.casos.append(caso)
        return caso

    def add_casos(self, count: int, **fields: Any) -> list[dict[str, Any]]:
        return [self.add_caso(**fields) for _ in range(count)]

    def add_cliente(self, **fields: Any) -> dict[str, Any]:
        number = self.next_number()
        cliente: dict[str, Any] = {
            "id": str(4000 + number),
            "nombre": "G&oacute;mez, Mar&iacute;a",
            "nro_documento": str(30000000 + number),
            "estado": "Activo",
            "telefonos": {"celular": "0353 15-456-7890", "fijo": "0353-4567890"},
            "email": "maria@example.com.ar",
            "domicilio": "Av. San Mart&iacute;n 1234",
            "localidad": "Villa Mar&iacute;a",
            **fields,
        }
        with self._lock:
            self.clientes.append(cliente)
        return cliente

    # ---- serving -----------------------------------------------------------------------------

    def redact_log(self, line: str) -> str:
        return line.replace(self.secret, "***").replace(self.password(), "***")

    def failure(self, name: str, request: RecordedRequest, retry_after: float | None) -> Answer:
        if name == "server_error":
            return json_answer(500, {"error": "500", "status": "Internal Server Error"})
        if name == "unavailable":
            return (503, {"Content-Type": "text/html"}, b"<h1>503 Service Unavailable</h1>")
        if name == "rate_limited":
            return json_answer(429, {"error": "429", "status": "Demasiadas consultas"})
        return (200, {"Content-Type": "text/html"}, b"<html><body>Mantenimiento</body></html>")

    def _authorized(self, request: RecordedRequest) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == self.cuit and password == self.password()

    def route(self, request: RecordedRequest) -> Answer:
        if request.method != "POST" or request.path.rstrip("/") != "":
            return json_answer(404, {"error": "404", "status": "Not Found"})
        if not self._authorized(request):
            return json_answer(200, {"error": 90, "status": "No tiene Acceso"})
        body = request.json if isinstance(request.json, dict) else {}
        action = body.get("action")
        if action in self.unavailable_actions:
            return self.failure("unavailable", request, None)
        if action == "casos":
            return self._casos(body)
        if action == "caso":
            return self._caso(body)
        if action == "cliente":
            return self._cliente(body)
        return json_answer(200, {"error": "1", "status": f"Accion desconocida: {action}"})

    def _casos(self, body: dict[str, Any]) -> Answer:
        try:
            since = datetime.strptime(str(body.get("fecha_desde", "")), "%d-%m-%Y").date()
            offset = int(body.get("offset") or 0)
        except ValueError:
            return json_answer(200, {"error": "3", "status": "Parametros invalidos"})
        key = "ultima_modif" if body.get("fecha_tipo") == "modi" else "fecha_creacion"
        with self._lock:
            matching = [caso for caso in self.casos if _day(caso.get(key)) >= since]
        if self.ignore_offset:
            offset = 0
        page = matching[offset : offset + PAGE]
        cantidad = len(matching) if self.cantidad_is_total else len(page)
        envelope = {"error": 0, "status": "OK", "offset": offset, "cantidad": cantidad}
        return json_answer(200, {**envelope, "casos": page})

    def _caso(self, body: dict[str, Any]) -> Answer:
        wanted = str(body.get("caso_id", ""))
        with self._lock:
            found = next((caso for caso in self.casos if caso["id"] == wanted), None)
        if found is None:
            return json_answer(200, {"error": "2", "status": "El caso no existe"})
        return json_answer(200, {"error": "0", "status": "OK", "caso": found})

    def _cliente(self, body: dict[str, Any]) -> Answer:
        with self._lock:
            if "cliente_id" in body:
                wanted = str(body["cliente_id"])
                found = next((c for c in self.clientes if c["id"] == wanted), None)
            else:
                dni = str(body.get("nro_documento", ""))
                found = next((c for c in self.clientes if c["nro_documento"] == dni), None)
        if found is None:
            return json_answer(200, {"error": "2", "status": "Cliente inexistente"})
        return json_answer(200, {"error": "0", "status": "OK", "cliente": found})


def _day(value: Any) -> date:
    try:
        return datetime.strptime(str(value or "")[:10], "%d-%m-%Y").date()
    except ValueError:
        return date.min


@contextmanager
def serving_fake_gestionreal(**settings: Any) -> Iterator[FakeGestionReal]:
    with serving(FakeGestionReal(**settings)) as fake:
        yield fake


@pytest.fixture
def fake_gestionreal() -> Iterator[FakeGestionReal]:
    with serving_fake_gestionreal() as fake:
        yield fake
