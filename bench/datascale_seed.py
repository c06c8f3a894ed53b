"""Seeding the data-scale benchmark's database (see `bench.datascale`): the team, contacts,
chats with their lines and history, and tickets, written with INSERT ... SELECT over
generate_series so a million rows take seconds, not the ORM's minutes.

Everything here runs after `django.setup()`; model imports are inside the functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from time import perf_counter
from typing import Any

BIG_CHAT_MESSAGES = 5_000
OPERATORS = 200
CHAT_OPERATORS = 50  # the first 50 operators work in the chat areas
AREAS = ("Soporte", "Ventas", "Administración")
SHIFTS = ((6, 14), (14, 22), (22, 6))  # operator i works shift i % 3, every day


@dataclass(frozen=True)
class Scale:
    conversations: int
    tickets: int
    runs: int  # timed requests per probe at the full size, page 50

    @property
    def contacts(self) -> int:
        return self.conversations * 6 // 10

    @property
    def active(self) -> int:
        """A few thousand live chats (an outage backlog), whatever the history's size."""
        return min(3_000, self.conversations // 40)


class BenchError(RuntimeError):
    pass


def sql(statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return list(cursor.fetchall()) if cursor.description else []


def insert_select(model: Any, values: dict[str, str], source: str) -> None:
    """`INSERT INTO <model's table> SELECT <values> FROM <source>`: `values` maps attnames to
    SQL expressions (no `%`: use mod()); the other fields get their default."""
    from django.db import connection

    quote = connection.ops.quote_name
    columns, exprs, params = [], [], []
    for column in model._meta.concrete_fields:
        if column.attname in values:
            expr = values[column.attname]
        elif column.primary_key:
            continue
        elif getattr(column, "auto_now", False) or getattr(column, "auto_now_add", False):
            expr = "now()"
        else:
            default = column.get_default()
            if (default is None and not column.null) or (column.unique and default is not None):
                raise BenchError(f"{model.__name__}.{column.name} needs a value in the seed")
            expr = "%s"
            params.append(column.get_db_prep_save(default, connection))
        columns.append(quote(column.column))
        exprs.append(expr)
    table = quote(model._meta.db_table)
    sql(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(exprs)} FROM {source}",  # noqa: S608 - names from model meta, numbers from us
        params or None,
    )


def id_range(model: Any, where: str = "TRUE") -> tuple[int, int]:
    table = model._meta.db_table
    low, high = sql(f"SELECT min(id), max(id) FROM {table} WHERE {where}")[0]  # noqa: S608
    return int(low or 0), int(high or 0)


@contextmanager
def seeding(label: str, timings: dict[str, float]) -> Iterator[None]:
    """One transaction with foreign-key triggers off (the rows are consistent by
    construction), then fresh planner statistics, as a running system would have."""
    from django.db import transaction

    print(f"  seeding {label} ...", end="", flush=True)
    start = perf_counter()
    with transaction.atomic():
        sql("SET LOCAL session_replication_role = replica")
        yield
    sql("ANALYZE")
    timings[label] = round(perf_counter() - start, 2)
    print(f" {timings[label]:.1f} s")


@dataclass
class World:
    admin: Any = None
    operator_user: Any = None  # op000: a chat operator in two of the three areas
    first_operator: int = 0  # operator ids are contiguous (checked)
    first_area: int = 0
    connection_id: int = 0
    first_contact: int = 0
    closed_seeded: int = 0
    tickets_seeded: int = 0
    big_chat: int = 0


def seed_team(world: World) -> None:
    from datetime import time

    from django.contrib.auth.hashers import make_password

    from ispdesk.accounts.models import Role, User
    from ispdesk.messaging.models import GatewayConnection, GatewayKind
    from ispdesk.operators.models import Area, Operator, Schedule, ScheduleKind, ShiftTag

    unusable = make_password(None)
    world.admin = User.objects.create(username="bench-admin", role=Role.ADMIN, password=unusable)
    names = ("Ana", "Juan", "Sofía", "Lucas", "Valentina", "Mateo", "Camila", "Diego")
    users = User.objects.bulk_create(
        User(username=f"op{i:03d}", first_name=names[i % 8], last_name=f"Operador {i:03d}",
             role=Role.OPERATOR, password=unusable)
        for i in range(OPERATORS)
    )  # fmt: skip
    world.operator_user = users[0]
    operators = Operator.objects.bulk_create(
        Operator(user=user, whatsapp=f"+5491150{i:06d}", is_paused=190 <= i < 195,
                 assignment_paused=i >= 195)
        for i, user in enumerate(users)
    )  # fmt: skip
    ids = [operator.pk for operator in operators]
    areas = Area.objects.bulk_create(Area(name=name) for name in AREAS)
    world.first_operator, world.first_area = ids[0], areas[0].pk
    if ids != list(range(ids[0], ids[0] + OPERATORS)) or areas[2].pk != areas[0].pk + 2:
        raise BenchError("operator or area ids are not contiguous")
    through = Operator.areas.through
    through.objects.bulk_create(
        through(operator_id=ids[i], area_id=areas[(i + shift) % 3].pk)
        for i in range(CHAT_OPERATORS)
        for shift in ((0, 1) if i % 5 == 0 else (0,))
    )
    Schedule.objects.bulk_create(
        Schedule(operator=operator, kind=kind, weekday=day, start=time(SHIFTS[i % 3][0]),
                 end=time(SHIFTS[i % 3][1]))
        for i, operator in enumerate(operators)
        for kind in (ScheduleKind.WORK, ScheduleKind.ASSIGNMENT, ScheduleKind.ALERT)
        for day in range(7)
    )  # fmt: skip
    for tag, shift in (("[TD]", 0), ("[TT]", 1)):
        shift_tag = ShiftTag.objects.create(tag=tag, name=tag.strip("[]"))
        shift_tag.operators.set(operators[shift::3][:30])
    connection = GatewayConnection.objects.create(kind=GatewayKind.SIMULATOR, name="bench")
    world.connection_id = connection.pk


def seed_contacts(world: World, scale: Scale) -> None:
    from ispdesk.contacts.models import Contact

    first = "ARRAY['Ana','Juan','María','Carlos','Lucía','Jorge','Paula','Diego','Marta','Raúl']"
    last = "ARRAY['Gómez','Pérez','López','Díaz','Romero','Sosa','Torres','Ruiz','Flores','Acosta']"
    insert_select(
        Contact,
        {
            "name": f"({first})[1 + mod(g, 10)] || ' ' || ({last})[1 + mod(g / 10, 10)]",
            "phone": "'+54911' || lpad(g::text, 8, '0')",
            "wa_jid": "'54911' || lpad(g::text, 8, '0') || '@s.whatsapp.net'",
            "dni": "(20000000 + g)::text",
            "tags": "'[]'::jsonb",
        },
        f"generate_series(1, {scale.contacts}) AS g",
    )
    world.first_contact, high = id_range(Contact)
    if high - world.first_contact + 1 != scale.contacts:
        raise BenchError("contact ids are not contiguous")


def seed_active_chats(world: World, scale: Scale) -> None:
    """The live chats: 8% open (a few per chat operator), 80% waiting in the queues (a tenth
    of them in the general queue), the rest with the bot; one live chat per contact."""
    from ispdesk.conversations.models import Conversation

    n_open, n_pending = scale.active * 8 // 100, scale.active * 80 // 100
    is_open, is_pending = f"k < {n_open}", f"k >= {n_open} AND k < {n_open + n_pending}"
    op = f"mod(k, {CHAT_OPERATORS})"
    contact = f"{world.first_contact} + k"
    at = "now() - k * interval '2 seconds'"
    insert_select(
        Conversation,
        {
            "contact_id": contact,
            "connection_id": str(world.connection_id),
            "chat_id": "'54911' || lpad((k + 1)::text, 8, '0') || '@s.whatsapp.net'",
            "status": f"CASE WHEN {is_open} THEN 'open' WHEN {is_pending} THEN 'pending' "
            "ELSE 'bot' END",
            "area_id": f"CASE WHEN {is_open} THEN {world.first_area} + mod({op}, 3) "
            f"WHEN {is_pending} AND mod(k, 10) <> 0 THEN {world.first_area} + mod(k, 3) END",
            "assignee_id": f"CASE WHEN {is_open} THEN {world.first_operator} + {op} END",
            "live_key": f"({contact})::text || ':' || {world.connection_id}",
            "flow_state": "'{}'::jsonb",
            "queued_at": f"CASE WHEN {is_pending} THEN now() - k * interval '1 second' END",
            "assigned_at": f"CASE WHEN {is_open} THEN now() - interval '30 minutes' END",
            "last_message_at": at,
            "last_message_preview": "'Hola, sigo sin internet desde ayer a la tarde'",
            "last_inbound_at": at,
            "unread_count": f"CASE WHEN {is_open} THEN mod(k, 4) ELSE 0 END",
            "awaiting_human": f"{is_open} AND mod(k, 3) = 0",
            "created_at": f"{at} - interval '30 minutes'",
        },
        f"generate_series(0, {scale.active - 1}) AS k",
    )


def seed_closed_chats(world: World, scale: Scale, upto: int) -> tuple[int, int]:
    """Closed chats numbered after those already seeded, each older than the last (more
    history); a fifth were closed by the bot and never reached a person. Returns their ids."""
    from ispdesk.conversations.models import Conversation

    low, high = world.closed_seeded + 1, upto
    person = "mod(j, 5) <> 0"
    op = f"mod(j / 5, {CHAT_OPERATORS})"  # every operator closes chats, not only some
    at = "now() - interval '1 hour' - j * interval '10 minutes'"
    first_new = id_range(Conversation)[1] + 1
    insert_select(
        Conversation,
        {
            "contact_id": f"{world.first_contact} + mod(j * 7919, {scale.contacts})",
            "connection_id": str(world.connection_id),
            "chat_id": "'54911' || lpad(j::text, 8, '0') || '@s.whatsapp.net'",
            "status": "'closed'",
            "area_id": f"CASE WHEN {person} THEN {world.first_area} + mod({op}, 3) END",
            "assignee_id": f"CASE WHEN {person} THEN {world.first_operator} + {op} END",
            "live_key": "NULL",
            "flow_state": "'{}'::jsonb",
            "assigned_at": f"CASE WHEN {person} THEN {at} - interval '30 minutes' END",
            "first_response_at": f"CASE WHEN {person} THEN {at} - interval '25 minutes' END",
            "closed_at": f"{at} + interval '5 minutes'",
            "close_reason": f"CASE WHEN NOT {person} THEN 'bot' WHEN mod(j, 3) = 0 THEN 'auto' "
            "ELSE 'operator' END",
            "last_message_at": at,
            "last_message_preview": "'Gracias, ya funciona'",
            "last_inbound_at": at,
            "created_at": f"{at} - interval '40 minutes'",
        },
        f"generate_series({low}, {high}) AS j",
    )
    world.closed_seeded = upto
    return first_new, id_range(Conversation)[1]


def seed_lines(world: World, ids: tuple[int, int]) -> None:
    """1 to 19 messages per chat (10 on average), a minute apart, ending at the chat's last
    message, stored in time order as they arrive; history events: created, assigned (when
    someone had it), closed (when closed)."""
    from ispdesk.conversations.models import Conversation, ConversationEvent, Message

    table = Conversation._meta.db_table
    where = f"c.id BETWEEN {ids[0]} AND {ids[1]} AND c.id <> {world.big_chat}"
    at = "c.last_message_at - (mod(c.id, 19) - k) * interval '1 minute'"
    insert_select(
        Message,
        {
            "conversation_id": "c.id",
            "sender": "CASE WHEN mod(k, 2) = 0 THEN 'customer' WHEN c.assignee_id IS NULL "
            "THEN 'bot' ELSE 'operator' END",
            "text": "CASE WHEN mod(k, 2) = 0 THEN 'Hola, no tengo servicio desde la mañana, "
            "ya reinicié el router' ELSE 'Gracias por escribirnos, ¿me indica su DNI?' END",
            "created_at": at,
        },
        f"{table} c CROSS JOIN LATERAL generate_series(0, mod(c.id, 19)) AS k "
        f"WHERE {where} ORDER BY {at}",
    )
    for kind, when, condition in (
        ("created", "c.created_at", "TRUE"),
        ("assigned", "c.assigned_at", "c.assignee_id IS NOT NULL"),
        ("closed", "c.closed_at", "c.status = 'closed'"),
    ):
        insert_select(
            ConversationEvent,
            {
                "conversation_id": "c.id",
                "kind": f"'{kind}'",
                "operator_id": "c.assignee_id" if kind == "assigned" else "NULL",
                "area_id": "c.area_id",
                "created_at": when,
            },
            f"{table} c WHERE {where} AND {condition}",
        )


def seed_big_chat(world: World) -> None:
    """The operator's first open chat gets 5,000 lines a minute apart, half of them ours
    with delivery ticks, and 40 history events along the way."""
    from datetime import timedelta

    from django.utils import timezone

    from ispdesk.conversations.models import Conversation, ConversationEvent, Message
    from ispdesk.messaging.models import OutboundMessage

    chat = Conversation.objects.filter(assignee__user=world.operator_user, status="open")
    big = chat.order_by("pk").first()
    if big is None:
        raise BenchError("the operator has no open chat to fill")
    world.big_chat = big.pk
    at = f"now() - ({BIG_CHAT_MESSAGES} - 1 - k) * interval '1 minute'"
    insert_select(
        OutboundMessage,
        {
            "connection_id": str(world.connection_id),
            "to": f"'{big.chat_id}'",
            "body": "'Ya revisamos su conexión, ¿puede probar ahora?'",
            "purpose": "'customer'",
            "status": "CASE WHEN k < 2400 THEN 'read' ELSE 'delivered' END",
            "provider_id": "'bench-' || k",
            "next_attempt_at": at,
            "context": f"jsonb_build_object('conversation', {big.pk})",
            "sent_at": at,
            "created_at": at,
        },
        f"generate_series(1, {BIG_CHAT_MESSAGES} - 1, 2) AS k",
    )
    first_outbound = id_range(OutboundMessage)[0]
    insert_select(
        Message,
        {
            "conversation_id": str(big.pk),
            "sender": "CASE WHEN mod(k, 2) = 0 THEN 'customer' ELSE 'operator' END",
            "text": "'Línea ' || k || ' de una charla muy larga sobre un corte de fibra'",
            "author_id": f"CASE WHEN mod(k, 2) = 1 THEN {world.operator_user.pk} END",
            "outbound_id": f"CASE WHEN mod(k, 2) = 1 THEN {first_outbound} + k / 2 END",
            "created_at": at,
        },
        f"generate_series(0, {BIG_CHAT_MESSAGES - 1}) AS k",
    )
    insert_select(
        ConversationEvent,
        {
            "conversation_id": str(big.pk),
            "kind": "CASE WHEN mod(k, 2) = 0 THEN 'transferred' ELSE 'assigned' END",
            "operator_id": str(world.first_operator),
            "area_id": str(world.first_area),
            "created_at": f"now() - (k * {BIG_CHAT_MESSAGES // 40}) * interval '1 minute'",
        },
        "generate_series(0, 39) AS k",
    )
    opened = timezone.now() - timedelta(minutes=BIG_CHAT_MESSAGES + 10)
    chat.filter(pk=big.pk).update(unread_count=3, created_at=opened)


def seed_tickets(world: World, upto: int, *, unassigned: int = 0) -> None:
    """Tickets numbered after those already seeded, each older than the last: 5% still
    open with their assignee, the rest closed; then `unassigned` new ones in the queue."""
    from ispdesk.tickets.models import Ticket, TicketEvent

    low, high = world.tickets_seeded + 1, upto
    subject = (
        "(ARRAY['Sin servicio','Lentitud','Cambio de plan','Corte de fibra','Router sin señal'])"
        "[1 + mod(g, 5)] || CASE WHEN mod(g, 10) = 0 THEN ' [TT]' ELSE '' END"
    )
    created, is_open = "now() - g * interval '5 minutes'", "mod(g, 20) = 0"
    insert_select(
        Ticket,
        {
            "source": "'splynx'",
            "external_id": "'bench-' || g",
            "customer_name": "'Cliente ' || g",
            "subject": subject,
            "body": "'El cliente reporta que el servicio se corta varias veces por día.'",
            "status": f"CASE WHEN {is_open} THEN 'assigned' ELSE 'closed' END",
            # g + g / 20, not g: the open ones (every 20th) spread over all operators
            "assignee_id": f"{world.first_operator} + mod(g + g / 20, {OPERATORS})",
            "created_at": created,
            "assigned_at": f"{created} + interval '2 minutes'",
            "first_response_at": f"{created} + interval '20 minutes'",
            "closed_at": f"CASE WHEN NOT {is_open} THEN {created} + interval '1 day' END",
        },
        f"generate_series({low}, {high}) AS g",
    )
    if unassigned:
        insert_select(
            Ticket,
            {
                "source": "'webhook'",
                "external_id": "'bench-queue-' || g",
                "subject": subject,
                "body": "'Sin conexión desde el corte de esta mañana.'",
                "status": "'new'",
                "created_at": "now() - g * interval '1 second'",
            },
            f"generate_series({high + 1}, {high + unassigned}) AS g",
        )
    world.tickets_seeded = upto + unassigned
    tickets, events = Ticket._meta.db_table, TicketEvent._meta.db_table
    missing = f"NOT EXISTS (SELECT 1 FROM {events} e WHERE e.ticket_id = t.id)"  # noqa: S608
    insert_select(
        TicketEvent,
        {"ticket_id": "t.id", "kind": "'created'", "created_at": "t.created_at"},
        f"{tickets} t WHERE {missing}",
    )
