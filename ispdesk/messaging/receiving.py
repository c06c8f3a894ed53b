"""Storing what a gateway's webhook delivered: messages, echoes, receipts, session state.

`receive_events` stores one webhook's events in one transaction (customer messages alone:
one INSERT that skips ids already stored) and sends real-time events on commit; customer
messages go to the service desk after that, off the request path (`messaging.pending`).
Gateways deliver the same event several times (retries, known upstream bugs) and in any
order, so every step is idempotent: messages are unique per (connection, provider id),
receipts only move a message forward, and a concurrent duplicate is caught, not raised.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.utils import timezone

from ispdesk.integrations.whatsapp.base import (
    ConnectionState,
    InboundEvent,
    QrCode,
    StatusReceipt,
)
from ispdesk.integrations.whatsapp.base import InboundMessage as InboundEventMessage
from ispdesk.lib.atomic import atomic_unless_one_statement
from ispdesk.lib.bulk import insert_new
from ispdesk.lib.phones import PhoneError, normalize_phone
from ispdesk.lib.rawsql import SelectRows, column, in_chunks, insert_row, marks, update_row
from ispdesk.messaging.models import (
    STATUS_ORDER,
    ConnectionStatus,
    EarlyReceipt,
    GatewayConnection,
    InboundMessage,
    OutboundMessage,
    OutboundStatus,
    Purpose,
)
from ispdesk.messaging.outbox import publish_status
from ispdesk.messaging.pending import STAFF_GROUPS, messages_stored
from ispdesk.realtime.events import send_event_on_commit

logger = logging.getLogger("ispdesk.webhooks")

# Chats that are not a person: groups, status broadcasts, channels.
_NOT_A_PERSON = ("@g.us", "@broadcast", "@newsletter")
_PHONE_JID = re.compile(r"^\+?(\d{8,15})(?:@(?:s\.whatsapp\.net|c\.us))?$")
_LOOSE_E164 = re.compile(r"^\+\d{8,15}$")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
# Timestamps outside this range are a wrong clock (or garbage): the arrival time is used.
_EARLIEST = datetime(2009, 1, 1, tzinfo=UTC)
_LATEST_AHEAD = timedelta(days=1)
MAX_TEXT_LENGTH = 100_000
SESSION_GROUPS = ("role.admin",)
# What a receipt changes on an outbound message.
RECEIPT_FIELDS = ("status", "sent_at", "delivered_at", "read_at", "failed_at", "error")


@dataclass
class Received:
    """What one webhook delivery changed; `stored` is what the answer reports."""

    messages: int = 0  # new inbound messages
    duplicates: int = 0  # messages and echoes already stored (retries, concurrent deliveries)
    echoes: int = 0  # messages sent from the phone, stored as outbound
    ignored: int = 0  # groups, broadcasts, events without an id
    receipts: int = 0  # receipts that moved a message forward
    stale_receipts: int = 0  # unknown message ids, or not a step forward
    states: int = 0  # connection state and QR updates

    @property
    def stored(self) -> int:
        return self.messages + self.echoes + self.receipts + self.states


# Pure helpers ------------------------------------------------------------------------------


def clean_text(value: str, max_length: int) -> str:
    """Text every database accepts: no NUL (PostgreSQL), no lone surrogates, not too long."""
    if not isinstance(value, str):
        return ""
    cleaned = _SURROGATES.sub("\ufffd", value.replace("\x00", ""))
    return cleaned[:max_length]


def sane_time(moment: datetime, now: datetime) -> datetime:
    """The provider's timestamp when plausible, else `now`."""
    if not isinstance(moment, datetime):
        return now
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment if _EARLIEST <= moment <= now + _LATEST_AHEAD else now


def is_group_or_broadcast(chat_id: str) -> bool:
    return chat_id.lower().endswith(_NOT_A_PERSON)


def next_status(current: str, receipt: str) -> str | None:
    """The status a receipt moves a message to, or None when it is not a step forward.

    queued → sending → sent → delivered → read, never backwards (read stays read). `failed`
    applies only before delivery (a delivered message did arrive) and is terminal.
    """
    rank = {str(status): order for status, order in STATUS_ORDER.items()}
    if current not in rank:  # failed, or unknown
        return None
    if receipt == OutboundStatus.FAILED:
        before_delivery = rank[current] < rank[OutboundStatus.DELIVERED]
        return OutboundStatus.FAILED if before_delivery else None
    if receipt not in rank:
        return None
    return receipt if rank[receipt] > rank[current] else None


def normalise_lid(lid: str, chat_id: str) -> str:
    """The `<digits>@lid` identity of a message, from its `lid` or its chat id."""
    lid = lid.strip()
    if not lid and chat_id.lower().endswith("@lid"):
        lid = chat_id
    if lid and "@" not in lid:
        lid = f"{lid}@lid"
    return lid[:64]


def phone_from(phone: str, chat_id: str) -> str:
    """E.164 for a message: the adapter's phone, else a phone-shaped chat id, else ""."""
    if phone:
        try:
            return normalize_phone(phone, mobile=True)
        except PhoneError:
            # WhatsApp knows the number exists even when our numbering metadata does not.
            return phone if _LOOSE_E164.match(phone) else ""
    match = _PHONE_JID.match(chat_id)
    if match:
        try:
            return normalize_phone("+" + match[1], mobile=True)
        except PhoneError:
            return "+" + match[1]
    return ""


def _media_url(url: str) -> str:
    url = clean_text(url, 1000)
    return url if url.startswith(("http://", "https://")) else ""


# The action --------------------------------------------------------------------------------


def receive_events(
    connection: GatewayConnection, events: Iterable[InboundEvent], *, now: datetime | None = None
) -> Received:
    """Store one webhook delivery's events in one transaction; events go out on commit."""
    now = now or timezone.now()
    events = list(events)
    received = Received()
    with atomic_unless_one_statement(_one_insert(events)):
        messages = [event for event in events if isinstance(event, InboundEventMessage)]
        if messages:
            _store_messages(connection, messages, now, received)
        receipts = [event for event in events if isinstance(event, StatusReceipt)]
        if receipts:
            _apply_receipts(connection, receipts, now, received)
        states = [event for event in events if isinstance(event, ConnectionState | QrCode)]
        if states:
            _apply_session_events(connection, states, now, received)
    if received.messages:
        messages_stored()
    return received


def _one_insert(events: list[InboundEvent]) -> bool:
    """Customer messages without an `@lid` alias are stored by one INSERT (the usual
    delivery); anything else takes several statements."""
    return all(
        isinstance(event, InboundEventMessage)
        and not event.from_me
        and not normalise_lid(clean_text(event.lid, 64), event.chat_id)
        for event in events
    )


# Messages and echoes -------------------------------------------------------------------------


@dataclass
class _Prepared:
    event: InboundEventMessage
    provider_id: str
    chat_id: str
    phone: str
    lid: str


def _prepare(
    connection: GatewayConnection, events: list[InboundEventMessage], received: Received
) -> list[_Prepared]:
    prepared = []
    for event in events:
        provider_id = clean_text(event.provider_id, 128).strip()
        chat_id = clean_text(event.chat_id, 128).strip()
        if not provider_id or is_group_or_broadcast(chat_id):
            received.ignored += 1
            continue
        lid = normalise_lid(clean_text(event.lid, 64), chat_id)
        phone = phone_from(clean_text(event.phone, 20).strip(), chat_id)
        prepared.append(_Prepared(event, provider_id, chat_id, phone, lid))
    _map_lids(connection, prepared)
    return prepared


def _map_lids(connection: GatewayConnection, prepared: list[_Prepared]) -> None:
    """Fill the phone of `@lid`-only messages from a payload (this one or earlier) that gave
    both, and backfill earlier `@lid`-only rows once a payload gives the phone."""
    known = {item.lid: item.phone for item in prepared if item.lid and item.phone}
    for lid, phone in known.items():
        InboundMessage.objects.filter(connection=connection, lid=lid, phone="").update(phone=phone)
    missing = sorted({item.lid for item in prepared if item.lid and not item.phone} - set(known))
    for chunk in in_chunks(missing):
        rows = (
            InboundMessage.objects.filter(connection=connection, lid__in=chunk)
            .exclude(phone="")
            .order_by("received_at", "id")
            .values_list("lid", "phone")
        )
        known.update(dict(rows))  # the latest mapping wins
    for item in prepared:
        if item.lid and not item.phone:
            item.phone = known.get(item.lid, "")


def _existing_ids(
    model: type[InboundMessage] | type[OutboundMessage],
    connection: GatewayConnection,
    ids: list[str],
) -> set[str]:
    found: set[str] = set()
    for chunk in in_chunks(sorted(set(ids))):
        rows = model.objects.filter(connection=connection, provider_id__in=chunk)
        found.update(str(value) for value in rows.values_list("provider_id", flat=True))
    return found


def _store_messages(
    connection: GatewayConnection,
    events: list[InboundEventMessage],
    now: datetime,
    received: Received,
) -> None:
    prepared = _prepare(connection, events, received)
    incoming = [item for item in prepared if not item.event.from_me]
    echoes = [item for item in prepared if item.event.from_me]
    fresh: dict[str, _Prepared] = {}
    for item in incoming:
        if item.provider_id in fresh:
            received.duplicates += 1
            continue
        fresh[item.provider_id] = item
    if fresh:
        # One INSERT per delivery: an id already stored (a retry, or a concurrent delivery
        # that won) is skipped by the unique index, and the database counts what it stored.
        stored = insert_new([_inbound_row(connection, item, now) for item in fresh.values()])
        received.messages += stored
        received.duplicates += len(fresh) - stored
    ours = _existing_ids(OutboundMessage, connection, [item.provider_id for item in echoes])
    for item in echoes:
        if item.provider_id in ours:
            # Our own send coming back, or an echo stored before.
            received.duplicates += 1
            continue
        ours.add(item.provider_id)
        # An echo of our own send that beats the sender's write of the provider id is stored
        # here as an echo; the sender then merges it into its row (`sending.record_sent`).
        echo = _create_echo(connection, item, now)
        if echo is None:
            received.duplicates += 1
            continue
        received.echoes += 1
        send_event_on_commit(
            STAFF_GROUPS,
            {
                "type": "message:new",
                "direction": "out",
                "connection": connection.pk,
                "message": echo.pk,
                "phone": item.phone,
            },
        )


def _inbound_row(connection: GatewayConnection, item: _Prepared, now: datetime) -> InboundMessage:
    event = item.event
    return InboundMessage(
        connection=connection,
        provider_id=item.provider_id,
        chat_id=item.chat_id,
        phone=item.phone,
        lid=item.lid,
        name=clean_text(event.name, 200),
        text=clean_text(event.text, MAX_TEXT_LENGTH),
        message_type=clean_text(event.message_type, 20) or "text",
        media_url=_media_url(event.media_url),
        quoted_id=clean_text(event.quoted_id, 128),
        sent_at=sane_time(event.timestamp, now),
    )


def _create_echo(
    connection: GatewayConnection, item: _Prepared, now: datetime
) -> OutboundMessage | None:
    event = item.event
    sent_at = sane_time(event.timestamp, now)
    try:
        with transaction.atomic():
            return OutboundMessage.objects.create(
                connection=connection,
                to=item.phone or item.chat_id,
                body=clean_text(event.text, MAX_TEXT_LENGTH),
                media_url=_media_url(event.media_url),
                quoted_id=clean_text(event.quoted_id, 128),
                purpose=Purpose.ECHO,
                status=OutboundStatus.SENT,
                provider_id=item.provider_id,
                next_attempt_at=sent_at,
                sent_at=sent_at,
                context={"chat_id": item.chat_id, "lid": item.lid} if item.lid else {},
            )
    except IntegrityError:
        return None


# Receipts ----------------------------------------------------------------------------------


def _apply_receipts(
    connection: GatewayConnection, receipts: list[StatusReceipt], now: datetime, received: Received
) -> None:
    ids = sorted({clean_text(receipt.provider_id, 128) for receipt in receipts} - {""})
    rows: dict[str, OutboundMessage] = {}
    for chunk in in_chunks(ids):
        locked = _select_receipted(db_connection.vendor, len(chunk)).instances(
            [connection.pk, *chunk]
        )
        rows.update({row.provider_id or "": row for row in locked})
    changed: dict[int, OutboundMessage] = {}
    early: list[EarlyReceipt] = []
    for receipt in receipts:
        provider_id = clean_text(receipt.provider_id, 128)
        row = rows.get(provider_id)
        if row is None and provider_id:
            # The receipt beat the sender's write of the provider id (gateways answer the
            # send and fire the receipt at once): keep it for `apply_early_receipts`.
            early.append(
                EarlyReceipt(
                    connection=connection,
                    provider_id=provider_id,
                    status=receipt.status,
                    error=clean_text(_reason(receipt), 500),
                    at=sane_time(receipt.timestamp, now),
                )
            )
            received.stale_receipts += 1
            continue
        status = next_status(row.status, receipt.status) if row is not None else None
        if row is None or status is None:
            received.stale_receipts += 1
            continue
        _advance(row, status, sane_time(receipt.timestamp, now), _reason(receipt))
        changed[row.pk] = row
        received.receipts += 1
    if early:
        if len(early) == 1:
            insert_row(early[0])  # the usual delivery (one receipt): one hand-written INSERT
        else:
            EarlyReceipt.objects.bulk_create(early)
        _prune_early_receipts(now)
    if not changed:
        return
    if len(changed) == 1:
        # The usual delivery (one receipt): one hand-written UPDATE.
        update_row(next(iter(changed.values())), *RECEIPT_FIELDS)
    else:
        OutboundMessage.objects.bulk_update(changed.values(), RECEIPT_FIELDS, batch_size=200)
    for row in changed.values():
        publish_status(row)


# Early receipts nobody claimed within a day belong to messages sent outside ispdesk. They
# are pruned at most this often per process: a DELETE with every delivery of early receipts
# was a tenth of a storm's receipt handling (issue 7).
EARLY_RECEIPTS_KEPT = timedelta(days=1)
EARLY_RECEIPTS_PRUNED_EVERY = timedelta(minutes=10)
_next_prune: datetime | None = None


def _prune_early_receipts(now: datetime) -> None:
    global _next_prune
    if _next_prune is not None and now < _next_prune:
        return
    _next_prune = now + EARLY_RECEIPTS_PRUNED_EVERY
    EarlyReceipt.objects.filter(created_at__lt=now - EARLY_RECEIPTS_KEPT).delete()


@functools.lru_cache(maxsize=64)
def _select_receipted(vendor: str, count: int) -> SelectRows[OutboundMessage]:
    """A connection's messages with any of `count` provider ids, locked in one order (the
    index's) so concurrent deliveries cannot deadlock; hand-written (`lib.rawsql`): one per
    receipt delivery, where compiling the queryset cost more than running it."""
    provider_id = column(OutboundMessage, "provider_id")
    return SelectRows.where(
        OutboundMessage,
        f"{column(OutboundMessage, 'connection')} = %s AND {provider_id} IN ({marks(count)})"
        f" ORDER BY {provider_id}",
        lock=True,
    )


def apply_early_receipts(message_pk: int, now: datetime) -> str | None:
    """Apply receipts that arrived before the sender stored this message's provider id;
    the status published when they moved it (None: they did not)."""
    with transaction.atomic():
        row = OutboundMessage.objects.select_for_update().filter(pk=message_pk).first()
        if row is None or not row.provider_id:
            return None
        waiting = list(
            EarlyReceipt.objects.filter(
                connection_id=row.connection_id, provider_id=row.provider_id
            )
        )
        if not waiting:
            return None
        moved = False
        for receipt in waiting:
            status = next_status(row.status, receipt.status)
            if status is not None:
                _advance(row, status, receipt.at, receipt.error)
                moved = True
        EarlyReceipt.objects.filter(pk__in=[receipt.pk for receipt in waiting]).delete()
        if not moved:
            return None
        row.save(update_fields=RECEIPT_FIELDS)
        publish_status(row)
        return row.status


def _reason(receipt: StatusReceipt) -> str:
    """The failure reason, with the provider's code when it gave one and the text lacks it."""
    error = receipt.error or ""
    code = receipt.code
    return f"{error} [{code}]".strip() if code and code not in error else error


def _advance(row: OutboundMessage, status: str, at: datetime, error: str) -> None:
    row.status = status
    if status == OutboundStatus.FAILED:
        row.failed_at = at
        row.error = clean_text(error, 500) or "failed (no reason given by the gateway)"
        return
    # A later step implies the earlier ones (a "read" may be the first receipt to arrive).
    row.sent_at = row.sent_at or at
    if status in (OutboundStatus.DELIVERED, OutboundStatus.READ):
        row.delivered_at = row.delivered_at or at
    if status == OutboundStatus.READ:
        row.read_at = row.read_at or at


# Connection state and QR -------------------------------------------------------------------


def _apply_session_events(
    connection: GatewayConnection,
    events: list[ConnectionState | QrCode],
    now: datetime,
    received: Received,
) -> None:
    row = GatewayConnection.objects.select_for_update().get(pk=connection.pk)
    before = (row.status, row.status_detail, row.last_qr)
    qr_changed = False
    for event in events:
        if isinstance(event, QrCode):
            image = clean_text(event.image, 200_000)
            if not image.startswith("data:image/"):
                logger.warning("connection %s: ignoring a QR that is not a data: image", row.pk)
                continue
            qr_changed = qr_changed or image != row.last_qr
            row.last_qr = image
            status: str = ConnectionStatus.QR
            detail = ""
        else:
            known = event.state in ConnectionStatus.values
            status = event.state if known else ConnectionStatus.UNKNOWN
            detail = clean_text(event.detail, 300)
            if status in (ConnectionStatus.CONNECTED, ConnectionStatus.DISCONNECTED):
                # Connected needs no QR; a closed session's old QR can no longer be scanned.
                row.last_qr = ""
        if status != row.status:
            row.status_changed_at = now
        row.status = status
        row.status_detail = detail
        received.states += 1
    if (row.status, row.status_detail, row.last_qr) == before:
        return
    row.save(update_fields=["status", "status_detail", "last_qr", "status_changed_at"])
    connection.status = row.status
    send_event_on_commit(
        SESSION_GROUPS,
        {
            "type": "session:status",
            "connection": row.pk,
            "status": row.status,
            "detail": row.status_detail,
        },
    )
    if qr_changed:
        send_event_on_commit(SESSION_GROUPS, {"type": "session:qr", "connection": row.pk})
