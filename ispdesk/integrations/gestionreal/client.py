"""The Gestión Real JSON API: one POST endpoint, `{"action": …}` bodies, a daily password.

HTTP Basic with the ISP's CUIT as user and, as password, the MD5 hex of CUIT + secret + the
Argentina calendar date (`YYYY-MM-DD`): it rotates at local midnight, not UTC's. Answers are
an envelope `{"error": 0|"0", "status": "OK", …}`; any other `error` is a failure (90: no
access). Reads are retried on 429/5xx and timeouts with a bounded backoff that honours
`Retry-After`. Everything comes out as plain dataclasses; failures as `GestionRealError`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from django.utils.translation import gettext as _

from ispdesk.integrations.gestionreal.mapping import (
    argentina_date,
    clean_text,
    fold,
    lenient_datetime,
    pick,
    plain,
    request_date,
)
from ispdesk.lib.http import HttpClient, HttpError, HttpResponse, redact_url, retry_after_seconds

logger = logging.getLogger("ispdesk.integrations.gestionreal")

DEFAULT_BASE_URL = "https://api.gestionreal.com.ar/"
PAGE_SIZE = 100
# Pages read per listing at most (10,000 cases): a server that never sends a short page
# (it ignores `offset`, or repeats its last page) must not keep a job reading for ever.
MAX_PAGES = 100
NO_ACCESS = 90
# Codes that mean the account itself is refused: every further call would be refused too.
ACCESS_REFUSED = (str(NO_ACCESS), "401", "403")
# `telefonos` keys (folded) that name a mobile, tried before the other numbers.
MOBILE_KEYS = ("cel", "movil", "whatsapp", "wsp")
FECHA_TIPOS = ("crea", "modi")

# Candidate keys per field: no public documentation settles them (PROTOCOLS.md), so each
# can be overridden per installation through `GestionRealSettings.field_names`.
DEFAULT_FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "casos": ("casos", "data", "resultado"),
    "caso": ("caso", "data"),
    "caso.id": ("id", "caso_id", "numero", "numerocaso"),
    "caso.cliente_id": ("cliente_id", "cli_id", "cliente"),
    "caso.asunto": ("asunto", "motivo", "descripcion"),
    "caso.estado": ("estado", "estado_caso"),
    "caso.fecha_creacion": ("fecha_creacion", "fecha_crea", "creado"),
    "caso.creado_por": ("creado_por", "usuario_creacion"),
    "caso.ultima_modif": ("ultima_modif", "fecha_modificacion", "fecha_modi"),
    "caso.modificado_por": ("modificado_por", "usuario_modificacion"),
    "caso.asignado_a": ("asignado_a", "grupo_id", "asignado"),
    "caso.ordenes": ("ordenes_de_servicio", "ordenes"),
    "cliente": ("cliente", "data", "clientes"),
    "cliente.id": ("id", "cliente_id", "cli_id"),
    "cliente.nombre": ("nombre", "razon_social", "apellido_nombre"),
    "cliente.documento": ("nro_documento", "documento", "dni", "cuit"),
    "cliente.estado": ("estado", "estado_cliente"),
    "cliente.telefonos": ("telefonos", "telefono", "celular"),
    "cliente.email": ("email", "mail", "correo"),
    "cliente.domicilio": ("domicilio", "direccion", "calle"),
    "cliente.localidad": ("localidad", "ciudad"),
}
# Where an error envelope may carry its text.
_MESSAGE_KEYS = ("mensaje", "message", "msg", "descripcion", "detalle", "status")


class GestionRealError(Exception):
    """A failed call. `permanent`: repeating it will not help (bad credentials, a refused
    request); otherwise the service was unreachable or overloaded."""

    def __init__(self, message: str, *, permanent: bool, code: str = "") -> None:
        self.message = message
        self.permanent = permanent
        self.code = code
        super().__init__(message)

    @property
    def refuses_access(self) -> bool:
        """The credentials were rejected (error 90, HTTP 401/403): no call will work."""
        return self.permanent and self.code in ACCESS_REFUSED


def basic_auth(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def daily_password(cuit: str, secret: str, now: datetime) -> str:
    """MD5 hex of CUIT + secret + the Argentina date at `now` (an aware datetime)."""
    day = argentina_date(now).isoformat()
    return hashlib.md5(f"{cuit}{secret}{day}".encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class GestionRealSettings:
    cuit: str
    secret: str
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 15.0
    # Attempts per call (1 = no retry) and the longest single wait between them, in seconds.
    attempts: int = 4
    max_wait: float = 30.0
    backoff: float = 1.0
    max_pages: int = MAX_PAGES
    field_names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def names(self, key: str) -> tuple[str, ...]:
        return tuple(self.field_names.get(key, ())) + DEFAULT_FIELD_NAMES[key]


@dataclass(frozen=True)
class Caso:
    id: str
    cliente_id: str
    asunto: str
    estado: str
    fecha_creacion: datetime | None
    creado_por: str
    ultima_modif: datetime | None
    modificado_por: str
    asignado_a: str  # the group id (per installation)
    ordenes_de_servicio: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Cliente:
    id: str
    nombre: str
    documento: str
    estado: str
    telefonos: tuple[str, ...]
    email: str
    domicilio: str
    localidad: str


@dataclass(frozen=True)
class CasosPage:
    casos: tuple[Caso, ...]
    offset: int
    # Cases skipped because they had no id (the API answered something we cannot use).
    skipped: int = 0
    # The envelope's `cantidad`, when it has a number there.
    cantidad: int | None = None

    @property
    def received(self) -> int:
        return len(self.casos) + self.skipped

    @property
    def is_last(self) -> bool:
        """Whether no page follows: a short page; or, when `cantidad` is a number other than
        this page's count, it is the query's total (installations differ), and it is reached."""
        if self.received < PAGE_SIZE:
            return True
        total = self.cantidad
        return total is not None and total != self.received and self.offset + self.received >= total


def _now() -> datetime:
    return datetime.now(UTC)


class GestionRealClient:
    """Calls to one Gestión Real account. `now` and `sleep` are injectable for tests (the
    password depends on the date; backoff waits)."""

    def __init__(
        self,
        settings: GestionRealSettings,
        *,
        now: Callable[[], datetime] = _now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._now = now
        self._sleep = sleep
        self._http = HttpClient(
            base_url="",
            timeout=settings.timeout,
            secrets=tuple(value for value in (settings.secret,) if value),
        )

    # ---- operations --------------------------------------------------------------------------

    def casos_page(self, fecha_tipo: str, fecha_desde: date, offset: int = 0) -> CasosPage:
        """One page (up to 100) of cases created (`crea`) or modified (`modi`) since a date."""
        if fecha_tipo not in FECHA_TIPOS:
            raise ValueError(f"fecha_tipo must be one of {FECHA_TIPOS}")
        data = self.call(
            "casos", fecha_tipo=fecha_tipo, fecha_desde=request_date(fecha_desde), offset=offset
        )
        items = pick(data, self.settings.names("casos"), [])
        if isinstance(items, Mapping):  # some PHP APIs answer a list as an object keyed by index
            items = list(items.values())
        if not isinstance(items, list):
            items = []
        casos = [self._caso(item) for item in items if isinstance(item, Mapping)]
        kept = tuple(caso for caso in casos if caso.id)
        cantidad = plain(data.get("cantidad"))
        return CasosPage(
            casos=kept,
            offset=offset,
            skipped=len(items) - len(kept),
            cantidad=int(cantidad) if cantidad.isascii() and cantidad.isdigit() else None,
        )

    def casos(self, fecha_tipo: str, fecha_desde: date, offset: int = 0) -> Iterator[Caso]:
        """Every case since `fecha_desde`, once each, page after page until the last page
        (`CasosPage.is_last`), a page with no case not read already (the server ignores
        `offset`), or `max_pages` pages (logged: the rest waits for the next run)."""
        seen: set[str] = set()
        for _number in range(self.settings.max_pages):
            page = self.casos_page(fecha_tipo, fecha_desde, offset)
            fresh = [caso for caso in page.casos if caso.id not in seen]
            if page.casos and not fresh:
                logger.warning(
                    "gestionreal casos %s: the page at offset %s repeats cases already read; "
                    "stopping (the server may ignore offset)",
                    fecha_tipo,
                    offset,
                )
                return
            seen.update(caso.id for caso in fresh)
            yield from fresh
            if page.is_last:
                return
            offset += page.received
        logger.warning(
            "gestionreal casos %s: stopped after %s pages (%s cases); the rest is not read",
            fecha_tipo,
            self.settings.max_pages,
            len(seen),
        )

    def caso(self, caso_id: str | int) -> Caso | None:
        data = self.call("caso", caso_id=str(caso_id))
        found = pick(data, self.settings.names("caso"))
        if isinstance(found, list):
            found = found[0] if found else None
        item = found if isinstance(found, Mapping) else data
        caso = self._caso(item)
        return caso if caso.id else None

    def cliente(self, cliente_id: str | int) -> Cliente | None:
        return self._cliente_from(self.call("cliente", cliente_id=str(cliente_id)))

    def cliente_por_dni(self, dni: str, tipo_documento: str = "DNI") -> Cliente | None:
        digits = "".join(ch for ch in str(dni) if ch.isdigit())
        if not digits:
            raise ValueError("a DNI needs digits")
        data = self.call("cliente", tipo_documento=tipo_documento, nro_documento=digits)
        return self._cliente_from(data)

    # ---- the envelope ------------------------------------------------------------------------

    def call(self, action: str, **params: Any) -> dict[str, Any]:
        """POST one action and return the envelope's data; GestionRealError on failure."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._post({"action": action, **params})
            except HttpError as exc:
                if attempt >= self.settings.attempts:
                    raise GestionRealError(
                        self._redact(_("Gestión Real did not answer: %(reason)s"), str(exc)),
                        permanent=False,
                    ) from None
                self._wait(attempt, None)
                continue
            status = response.status_code
            if status == 429 or status >= 500:
                if attempt >= self.settings.attempts:
                    raise GestionRealError(
                        _("Gestión Real answered HTTP %(status)s; try again later.")
                        % {"status": status},
                        permanent=False,
                        code=str(status),
                    )
                self._wait(attempt, response.headers.get("Retry-After"))
                continue
            return self._envelope(action, response)

    def _post(self, body: dict[str, Any]) -> HttpResponse:
        cuit = self.settings.cuit
        password = daily_password(cuit, self.settings.secret, self._now())
        return self._http_for(password).request(
            "POST",
            self.settings.base_url,
            json=body,
            headers={"Authorization": basic_auth(cuit, password)},
        )

    def _http_for(self, password: str) -> HttpClient:
        # The day's password must never reach a log line either.
        self._http.secrets = tuple(v for v in (self.settings.secret, password) if v)
        return self._http

    def _wait(self, attempt: int, retry_after: str | None) -> None:
        wait = self.settings.backoff * 2 ** (attempt - 1)
        asked = retry_after_seconds(retry_after, self._now())
        if asked is not None:
            wait = asked
        self._sleep(max(0.0, min(wait, self.settings.max_wait)))

    def _envelope(self, action: str, response: HttpResponse) -> dict[str, Any]:
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            if response.status_code in (401, 403):
                raise GestionRealError(
                    _("Gestión Real rejected the credentials (HTTP %(status)s).")
                    % {"status": response.status_code},
                    permanent=True,
                    code=str(response.status_code),
                )
            raise GestionRealError(
                _("Gestión Real answered %(action)s with HTTP %(status)s and no JSON envelope.")
                % {"action": action, "status": response.status_code},
                permanent=response.status_code < 500 and response.status_code != 200,
                code=str(response.status_code),
            )
        code = plain(data.get("error", 0)) or "0"
        if code == "0" and response.status_code < 400:
            return data
        if code == str(NO_ACCESS):
            raise GestionRealError(
                _("credentials rejected (error 90): check the CUIT and the secret"),
                permanent=True,
                code=code,
            )
        text = clean_text(pick(data, _MESSAGE_KEYS, ""))
        if code == "0":  # an HTTP failure with an envelope that says nothing
            code = str(response.status_code)
        message = _("Gestión Real refused %(action)s: error %(code)s") % {
            "action": action,
            "code": code,
        }
        if text and text.upper() != "OK":
            message = f"{message} ({text[:200]})"
        raise GestionRealError(self._redact("%(reason)s", message), permanent=True, code=code)

    def _redact(self, template: str, reason: str) -> str:
        hidden = redact_url(reason, self._http.secrets)
        for secret in self._http.secrets:
            hidden = hidden.replace(secret, "***")
        return template % {"reason": hidden}

    # ---- mapping -----------------------------------------------------------------------------

    def _caso(self, item: Mapping[str, Any]) -> Caso:
        names = self.settings.names
        ordenes = pick(item, names("caso.ordenes"), ())
        return Caso(
            id=plain(pick(item, names("caso.id"))),
            cliente_id=plain(pick(item, names("caso.cliente_id"))),
            asunto=clean_text(pick(item, names("caso.asunto"), "")),
            estado=clean_text(pick(item, names("caso.estado"), "")),
            fecha_creacion=lenient_datetime(pick(item, names("caso.fecha_creacion"))),
            creado_por=clean_text(pick(item, names("caso.creado_por"), "")),
            ultima_modif=lenient_datetime(pick(item, names("caso.ultima_modif"))),
            modificado_por=clean_text(pick(item, names("caso.modificado_por"), "")),
            asignado_a=plain(pick(item, names("caso.asignado_a"))),
            ordenes_de_servicio=tuple(ordenes) if isinstance(ordenes, list | tuple) else (),
        )

    def _cliente_from(self, data: Mapping[str, Any]) -> Cliente | None:
        found = pick(data, self.settings.names("cliente"))
        if isinstance(found, list):
            found = found[0] if found else None
        item = found if isinstance(found, Mapping) else data
        names = self.settings.names
        cliente = Cliente(
            id=plain(pick(item, names("cliente.id"))),
            nombre=clean_text(pick(item, names("cliente.nombre"), "")),
            documento=plain(pick(item, names("cliente.documento"))),
            estado=clean_text(pick(item, names("cliente.estado"), "")),
            telefonos=_phones(pick(item, names("cliente.telefonos"))),
            email=clean_text(pick(item, names("cliente.email"), "")),
            domicilio=clean_text(pick(item, names("cliente.domicilio"), "")),
            localidad=clean_text(pick(item, names("cliente.localidad"), "")),
        )
        return cliente if cliente.id else None


def _phones(value: Any) -> tuple[str, ...]:
    """`telefonos` is an object keyed by phone type (PROTOCOLS.md), mobiles first; accept
    lists and text."""
    if isinstance(value, Mapping):
        # A stable sort: mobiles ("celular", "movil", …) first, each group in its order.
        keyed = sorted(value.items(), key=lambda item: not _is_mobile_key(str(item[0])))
        items = [number for _key, number in keyed]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        items = [value]
    found = [plain(item) for item in items if not isinstance(item, Mapping | list)]
    return tuple(item for item in found if item)


def _is_mobile_key(key: str) -> bool:
    return any(word in fold(key) for word in MOBILE_KEYS)
