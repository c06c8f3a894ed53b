"""Demo data of the service desk: area hours, a greeting flow, contacts and a few chats.

Idempotent; `ispdesk.demo.load_demo_data` calls it after the team and the simulator exist.
Chats are written as rows (not through the bot) so the console has something to show from
the first login; new chats come from the simulator page.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from ispdesk.contacts.models import Contact
from ispdesk.conversations.flows.samples import sample_definition
from ispdesk.conversations.models import (
    CloseReason,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    EventKind,
    Flow,
    Message,
    Sender,
)
from ispdesk.lib.phones import whatsapp_digits
from ispdesk.messaging.models import GatewayConnection, OutboundMessage, OutboundStatus, Purpose
from ispdesk.messaging.simulator import simulator_connection
from ispdesk.operators.models import Area, AreaHours, Operator

WEEKDAYS = (0, 1, 2, 3, 4)
# Soporte answers around the clock (no hours); the office areas keep office hours.
Hours = list[tuple[tuple[int, ...], time, time, str]]
AREA_HOURS: dict[str, Hours] = {
    "Ventas": [
        (WEEKDAYS, time(9), time(18), ""),
        ((5,), time(9), time(13), "¡Gracias por escribir a Ventas! Te respondemos el lunes."),
    ],
    "Administración": [(WEEKDAYS, time(8), time(17), "")],
}
CONTACTS = (
    ("Marcela Gómez", "+5491123456789", "28444555", "Soporte"),
    ("Raúl Díaz", "+5491134567890", "30111222", "Soporte"),
    ("Lucía Fernández", "+5493514567890", "35999888", "Ventas"),
    ("Carla Sosa", "+5491145678901", "27666777", "Administración"),
    ("Jorge Ruiz", "+5492614567890", "", ""),
)


def load_desk_demo() -> None:
    with transaction.atomic():
        areas = {area.name: area for area in Area.objects.all()}
        for name, windows in AREA_HOURS.items():
            area = areas.get(name)
            if area is None or AreaHours.objects.filter(area=area).exists():
                continue
            AreaHours.objects.bulk_create(
                AreaHours(area=area, weekday=day, start=start, end=end, courtesy_message=text)
                for days, start, end, text in windows
                for day in days
            )
        support = areas.get("Soporte")
        if support is not None and not Flow.objects.exists():
            Flow.objects.create(
                name="Bienvenida",
                is_default=True,
                triggers=["hola", "menu principal"],
                fallback_area=support,
                definition=sample_definition(support.pk),
            )
        for name, phone, dni, area_name in CONTACTS:
            Contact.objects.get_or_create(
                phone=phone,
                defaults={"name": name, "dni": dni, "preferred_area": areas.get(area_name)},
            )
        if not Conversation.objects.exists():
            _demo_chats(simulator_connection(), areas)


def _chat(
    connection: GatewayConnection,
    phone: str,
    status: str,
    area: Area | None,
    assignee: Operator | None,
    lines: list[tuple[str, str]],
    started: datetime,
) -> Conversation:
    contact = Contact.objects.get(phone=phone)
    closed = status == ConversationStatus.CLOSED
    conversation = Conversation.objects.create(
        contact=contact,
        connection=connection,
        chat_id=whatsapp_digits(phone),
        status=status,
        area=area,
        assignee=assignee,
        live_key=None if closed else f"{contact.pk}:{connection.pk}",
        queued_at=started if status == ConversationStatus.PENDING else None,
        assigned_at=started if assignee else None,
        closed_at=started + timedelta(minutes=len(lines) + 1) if closed else None,
        close_reason=CloseReason.OPERATOR if closed else "",
        last_message_at=started,
        created_at=started,
    )
    ConversationEvent.objects.create(
        conversation=conversation, kind=EventKind.CREATED, created_at=started
    )
    at = started
    for sender, text in lines:
        at += timedelta(minutes=1)
        outbound = None
        if sender != Sender.CUSTOMER:
            outbound = OutboundMessage.objects.create(
                connection=connection,
                to=conversation.chat_id,
                body=text,
                purpose=Purpose.CUSTOMER,
                status=OutboundStatus.READ,
                next_attempt_at=at,
                sent_at=at,
                context={"conversation": conversation.pk},
            )
        message = Message.objects.create(
            conversation=conversation, sender=sender, text=text, outbound=outbound, created_at=at
        )
        conversation.last_message_at = message.created_at
        conversation.last_message_preview = text[:200]
    last_is_customer = lines[-1][0] == Sender.CUSTOMER
    conversation.awaiting_human = last_is_customer and not closed
    conversation.unread_count = 1 if last_is_customer and not closed else 0
    if assignee is not None:
        ConversationEvent.objects.create(
            conversation=conversation,
            kind=EventKind.ASSIGNED,
            operator=assignee,
            area=area,
            created_at=started,
        )
    if closed:
        ConversationEvent.objects.create(
            conversation=conversation,
            kind=EventKind.CLOSED,
            operator=assignee,
            created_at=conversation.closed_at or started,
        )
    conversation.save()
    return conversation


def _demo_chats(connection: GatewayConnection, areas: dict[str, Area]) -> None:
    now = timezone.now()
    support, sales = areas.get("Soporte"), areas.get("Ventas")
    ana = Operator.objects.filter(user__username="ana").first()
    juan = Operator.objects.filter(user__username="juan").first()
    _chat(
        connection,
        "+5491123456789",
        ConversationStatus.CLOSED,
        support,
        juan,
        [
            (Sender.CUSTOMER, "Hola, se me cortó internet"),
            (Sender.OPERATOR, "Hola Marcela, ¿podés reiniciar el módem?"),
            (Sender.CUSTOMER, "Listo, ya anda. ¡Gracias!"),
        ],
        now - timedelta(days=6),
    )
    _chat(
        connection,
        "+5491123456789",
        ConversationStatus.OPEN,
        support,
        ana,
        [
            (Sender.CUSTOMER, "Hola de nuevo, otra vez sin servicio"),
            (
                Sender.OPERATOR,
                "Hola Marcela, ya revisamos tu conexión. ¿Tenés luz roja en el módem?",
            ),
            (Sender.CUSTOMER, "Sí, la luz LOS está roja"),
        ],
        now - timedelta(minutes=12),
    )
    _chat(
        connection,
        "+5491134567890",
        ConversationStatus.PENDING,
        support,
        None,
        [(Sender.CUSTOMER, "Buenas, la conexión anda muy lenta a la noche")],
        now - timedelta(minutes=4),
    )
    _chat(
        connection,
        "+5493514567890",
        ConversationStatus.PENDING,
        sales,
        None,
        [(Sender.CUSTOMER, "Quiero pasar al plan de 300 megas")],
        now - timedelta(minutes=2),
    )
