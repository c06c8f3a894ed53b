"""The open-loop timetable: which webhook goes out when, decided before the run starts.

Customers follow a short script (greeting, a menu choice, what is wrong), so the bot answers,
chats are handed to areas and operators see them. Messages are spread over two gateways:
Evolution (one message per POST) and the Cloud API (2-5 per signed POST). On top of the
unique messages: duplicate deliveries (10% of message deliveries re-send an earlier POST, as
gateways retry) and status receipts for our outbound messages in shuffled order, some naming
ids the fake gateway has not issued yet.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench import payloads
from bench.payloads import CLOUD, EVOLUTION, Body, Text
from bench.scenarios import STORM, Scenario

# Seconds between one customer's messages in steady scenarios.
STEADY_GAP = 2.0
# The storm's customers wait 2-6 s between messages and write 2 or 3 of them.
STORM_GAP = (2.0, 6.0)
DUPLICATE_SHARE = 0.10  # of message deliveries
DUPLICATE_DELAY = (1.0, 10.0)  # seconds after the original
RECEIPTS_PER_MESSAGE = 0.25
CLOUD_BATCH = (2, 5)
RECEIPT_STATUSES = ("sent", "delivered", "read")
MENU_CHOICES = ("1", "2", "3")  # Soporte, Ventas, Administración in the bench flow
OTHER_CHOICE = "4"  # opening hours: the bot answers and keeps the chat
OTHER_CHOICE_SHARE = 0.1
COMPLAINTS = (
    "se me cortó internet",
    "no tengo señal desde la mañana",
    "anda muy lento",
    "la luz del router está en rojo",
    "quiero saber cuándo vuelve el servicio",
)

MESSAGE = "message"
DUPLICATE = "duplicate"
RECEIPT = "receipt"


@dataclass(frozen=True)
class PlannedMessage:
    at: float  # seconds after the start
    customer: int
    seq: int  # 0: greeting, 1: menu choice, 2: complaint
    gateway: str
    message_id: str
    phone: str
    text: str


@dataclass(frozen=True)
class Delivery:
    at: float
    gateway: str
    kind: str  # message | duplicate | receipt
    body: bytes
    headers: dict[str, str]
    message_ids: tuple[str, ...] = ()
    receipts: int = 0


@dataclass(frozen=True)
class Signing:
    """What the Cloud API POSTs need: the app secret and the number's id."""

    app_secret: str
    phone_number_id: str


@dataclass
class Timetable:
    scenario: Scenario
    tag: int
    messages: list[PlannedMessage]
    deliveries: list[Delivery]
    # Per unique message id: when its first delivery is due (seconds after the start).
    first_due: dict[str, float] = field(default_factory=dict)

    @property
    def unique_ids(self) -> list[str]:
        return [message.message_id for message in self.messages]

    def counts(self) -> dict[str, int]:
        by_kind = {MESSAGE: 0, DUPLICATE: 0, RECEIPT: 0}
        for delivery in self.deliveries:
            by_kind[delivery.kind] += 1
        return {
            "deliveries": len(self.deliveries),
            "message_posts": by_kind[MESSAGE],
            "duplicate_posts": by_kind[DUPLICATE],
            "receipt_posts": by_kind[RECEIPT],
            "unique_messages": len(self.messages),
            "duplicate_messages": sum(
                len(d.message_ids) for d in self.deliveries if d.kind == DUPLICATE
            ),
            "receipts": sum(d.receipts for d in self.deliveries),
        }

    @property
    def span(self) -> float:
        return self.deliveries[-1].at if self.deliveries else 0.0


def _script_text(seq: int, customer: int, rng: random.Random) -> str:
    if seq == 0:
        return "hola"
    if seq == 1:
        if rng.random() < OTHER_CHOICE_SHARE:
            return OTHER_CHOICE
        return MENU_CHOICES[customer % len(MENU_CHOICES)]
    return f"{rng.choice(COMPLAINTS)} (cliente {customer})"


def _gateway(customer: int) -> str:
    return EVOLUTION if customer % 2 == 0 else CLOUD


def steady_slots(
    rate: float, duration: float, gap: float = STEADY_GAP
) -> list[tuple[float, int, int]]:
    """(time, customer, seq) for `rate x duration` evenly spaced messages.

    Blocks of 3*g slots (g = gap*rate): the first g slots greet for g new customers, the next
    g carry their menu choices, the last g their complaints. The rate is exact and every
    customer's messages are `gap` seconds apart; customers at the very end may be cut short.
    """
    if rate <= 0 or duration <= 0:
        raise ValueError("a steady scenario needs a positive rate and duration")
    total = round(rate * duration)
    g = max(1, round(gap * rate))
    slots = []
    for index in range(total):
        block, within = divmod(index, 3 * g)
        seq, offset = divmod(within, g)
        slots.append((index / rate, block * g + offset, seq))
    return slots


def storm_slots(customers: int, ramp: float, rng: random.Random) -> list[tuple[float, int, int]]:
    """(time, customer, seq): customers arrive ever faster over `ramp` seconds (arrival
    density grows linearly), each writing 2 or 3 messages a few seconds apart."""
    if customers <= 0 or ramp <= 0:
        raise ValueError("a storm needs customers and a ramp")
    slots = []
    for customer in range(customers):
        at = ramp * math.sqrt(rng.random())
        for seq in range(rng.choice((2, 3))):
            slots.append((at, customer, seq))
            at += rng.uniform(*STORM_GAP)
    slots.sort()
    return slots


def plan_messages(scenario: Scenario, tag: int, rng: random.Random) -> list[PlannedMessage]:
    if scenario.kind == STORM:
        slots = storm_slots(scenario.customers, scenario.duration, rng)
    else:
        slots = steady_slots(scenario.rate, scenario.duration)
    numbers = {EVOLUTION: 0, CLOUD: 0}
    planned = []
    for at, customer, seq in slots:
        gateway = _gateway(customer)
        numbers[gateway] += 1
        planned.append(
            PlannedMessage(
                at=round(at, 6),
                customer=customer,
                seq=seq,
                gateway=gateway,
                message_id=payloads.message_id(gateway, tag, numbers[gateway]),
                phone=payloads.customer_digits(tag, customer),
                text=_script_text(seq, customer, rng),
            )
        )
    return planned


def _text(message: PlannedMessage, epoch: float) -> Text:
    return Text(
        message_id=message.message_id,
        phone=message.phone,
        text=message.text,
        name=f"Cliente {message.customer}",
        timestamp=int(epoch + message.at),
    )


def _chunks(items: Sequence[PlannedMessage], rng: random.Random) -> list[list[PlannedMessage]]:
    chunks, start = [], 0
    while start < len(items):
        size = rng.randint(*CLOUD_BATCH)
        chunks.append(list(items[start : start + size]))
        start += size
    return chunks


def message_deliveries(
    messages: Sequence[PlannedMessage], signing: Signing, epoch: float, rng: random.Random
) -> list[Delivery]:
    """One POST per Evolution message; Cloud API messages in consecutive batches of 2-5,
    each due when its last message is (Meta sends what has arrived)."""
    deliveries = []
    for message in messages:
        if message.gateway == EVOLUTION:
            body = payloads.evolution_message(_text(message, epoch))
            deliveries.append(
                _delivery(message.at, EVOLUTION, MESSAGE, body, (message.message_id,))
            )
    cloud = [message for message in messages if message.gateway == CLOUD]
    for chunk in _chunks(cloud, rng):
        body = payloads.cloud_messages(
            [_text(message, epoch) for message in chunk],
            signing.app_secret,
            signing.phone_number_id,
        )
        ids = tuple(message.message_id for message in chunk)
        deliveries.append(_delivery(chunk[-1].at, CLOUD, MESSAGE, body, ids))
    return deliveries


def _delivery(
    at: float, gateway: str, kind: str, body: Body, ids: tuple[str, ...] = (), receipts: int = 0
) -> Delivery:
    return Delivery(at, gateway, kind, body.body, body.headers, ids, receipts)


def duplicate_deliveries(
    originals: Sequence[Delivery], end: float, rng: random.Random
) -> list[Delivery]:
    """Re-sends of randomly chosen earlier POSTs, byte for byte, 1-10 s later (never after
    `end`), so that they are DUPLICATE_SHARE of all message deliveries."""
    count = round(len(originals) * DUPLICATE_SHARE / (1 - DUPLICATE_SHARE))
    chosen = rng.sample(list(originals), min(count, len(originals)))
    return [
        Delivery(
            at=min(end, original.at + rng.uniform(*DUPLICATE_DELAY)),
            gateway=original.gateway,
            kind=DUPLICATE,
            body=original.body,
            headers=original.headers,
            message_ids=original.message_ids,
        )
        for original in chosen
    ]


def receipt_deliveries(
    count: int,
    id_ranges: dict[str, tuple[int, int]],
    phones: Sequence[str],
    duration: float,
    signing: Signing,
    rng: random.Random,
) -> list[Delivery]:
    """About `count` receipts: every status of `count / 3` outbound ids, each status at its
    own random time (so "read" often comes before "delivered"). Ids are drawn from
    `id_ranges[gateway]` = (first, last) numbers of the fake gateway's sends: those above
    what it has issued so far do not exist yet."""
    if count <= 0 or not phones:
        return []
    items: dict[str, list[tuple[float, str, str, str]]] = {EVOLUTION: [], CLOUD: []}
    for index in range(max(1, count // len(RECEIPT_STATUSES))):
        gateway = EVOLUTION if index % 2 == 0 else CLOUD
        first, last = id_ranges[gateway]
        provider_id = payloads.outbound_id(gateway, rng.randint(first, max(first, last)))
        phone = rng.choice(phones)
        for status in RECEIPT_STATUSES:
            items[gateway].append((rng.uniform(0, duration), provider_id, status, phone))
    deliveries = []
    for at, provider_id, status, phone in sorted(items[EVOLUTION]):
        body = payloads.evolution_receipt(provider_id, status, phone)
        deliveries.append(_delivery(at, EVOLUTION, RECEIPT, body, receipts=1))
    cloud = sorted(items[CLOUD])
    start = 0
    while start < len(cloud):
        chunk = cloud[start : start + rng.randint(*CLOUD_BATCH)]
        start += len(chunk)
        body = payloads.cloud_statuses(
            [(provider_id, status, phone) for _at, provider_id, status, phone in chunk],
            signing.app_secret,
            signing.phone_number_id,
        )
        deliveries.append(_delivery(chunk[-1][0], CLOUD, RECEIPT, body, receipts=len(chunk)))
    return deliveries


def build(
    scenario: Scenario,
    tag: int,
    signing: Signing,
    *,
    epoch: float,
    receipt_ids: dict[str, tuple[int, int]],
    seed: int = 7,
) -> Timetable:
    """The whole timetable of one scenario, sorted by due time; deterministic for a seed."""
    rng = random.Random(f"{seed}-{tag}-{scenario.name}")
    messages = plan_messages(scenario, tag, rng)
    originals = message_deliveries(messages, signing, epoch, rng)
    end = max((message.at for message in messages), default=0.0)
    duplicates = duplicate_deliveries(originals, end, rng)
    phones = sorted({message.phone for message in messages})
    receipts = receipt_deliveries(
        round(len(messages) * RECEIPTS_PER_MESSAGE), receipt_ids, phones, end, signing, rng
    )
    deliveries = sorted(originals + duplicates + receipts, key=lambda delivery: delivery.at)
    first_due: dict[str, float] = {}
    for delivery in deliveries:
        for message_id in delivery.message_ids:
            first_due.setdefault(message_id, delivery.at)
    return Timetable(scenario, tag, messages, deliveries, first_due)
