"""Demo data, loaded idempotently: running it twice creates nothing twice."""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.db import transaction

from ispdesk.accounts.models import PagePermission, Role, User
from ispdesk.messaging.demo import load_messaging_demo
from ispdesk.messaging.message_templates import install_default_templates

DEFAULT_DEMO_PASSWORD = "demo-ispdesk-2026"  # noqa: S105 - demo only, printed


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    role: str
    page_permissions: tuple[str, ...] = ()


DEMO_USERS = (
    DemoUser("admin", "Admin", "Demo", Role.ADMIN),
    DemoUser(
        "supervisor",
        "Silvia",
        "Supervisora",
        Role.SUPERVISOR,
        (PagePermission.OPERATOR_VIEW, PagePermission.NOC_DASHBOARD),
    ),
    DemoUser("ana", "Ana", "García", Role.OPERATOR, (PagePermission.OPERATOR_VIEW,)),
    DemoUser("juan", "Juan", "Pérez", Role.OPERATOR, (PagePermission.OPERATOR_VIEW,)),
    DemoUser("sofia", "Sofía", "López", Role.OPERATOR, (PagePermission.OPERATOR_VIEW,)),
    DemoUser("nico", "Nicolás", "Ibarra", Role.OPERATOR, (PagePermission.OPERATOR_VIEW,)),
)


def demo_password() -> str:
    return os.environ.get("ISPDESK_DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD


def load_demo_data() -> list[User]:
    password = demo_password()
    users = []
    with transaction.atomic():
        for spec in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=spec.username,
                defaults={
                    "first_name": spec.first_name,
                    "last_name": spec.last_name,
                    "role": spec.role,
                    "page_permissions": list(spec.page_permissions),
                    "email": f"{spec.username}@demo.ispdesk.local",
                },
            )
            if created or not user.check_password(password):
                user.set_password(password)
                user.save(update_fields=["password"])
            users.append(user)
        load_team_demo()
        load_on_duty_demo()
        install_default_templates()
        load_messaging_demo()
    load_tickets_demo()
    from ispdesk.conversations.demo import load_desk_demo

    load_desk_demo()
    return users


# The team ------------------------------------------------------------------------------------

AREAS = (
    ("Soporte", "Soporte técnico: cortes, lentitud, equipos"),
    ("Ventas", "Altas, cambios de plan, cobertura"),
    ("Administración", "Facturación, pagos, reclamos administrativos"),
)

# username → (WhatsApp, areas, shifts {kind: [(weekdays, start, end)]}, shift tag)
WEEKDAYS = (0, 1, 2, 3, 4)
Shifts = dict[str, list[tuple[tuple[int, ...], str, str]]]
TEAM: dict[str, tuple[str, tuple[str, ...], Shifts, str]] = {
    "ana": (
        "+5491155550001",
        ("Soporte", "Administración"),
        {"work": [(WEEKDAYS, "08:00", "16:00")], "assignment": [(WEEKDAYS, "08:00", "15:30")]},
        "[TD]",
    ),
    "juan": (
        "+5491155550002",
        ("Soporte", "Ventas"),
        {"work": [(WEEKDAYS, "14:00", "22:00")], "assignment": [(WEEKDAYS, "14:00", "21:30")]},
        "[TT]",
    ),
    "sofia": (
        "+5493515550003",
        ("Soporte",),
        {
            "work": [(WEEKDAYS, "09:00", "17:00"), ((5,), "09:00", "13:00")],
            "assignment": [(WEEKDAYS, "09:00", "16:30"), ((5,), "09:00", "12:30")],
        },
        "[TD]",
    ),
}
# The night and weekend guard: with him the desk has someone on shift at every hour.
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)
TEAM["nico"] = (
    "+5491155550004",
    ("Soporte", "Ventas", "Administración"),
    {
        "work": [(EVERY_DAY, "22:00", "08:00"), ((5, 6), "08:00", "22:00")],
        "assignment": [(EVERY_DAY, "22:00", "08:00"), ((5, 6), "08:00", "22:00")],
    },
    "[TT]",
)
SHIFT_TAGS = (("[TD]", "Turno día"), ("[TT]", "Turno tarde"))

DEMO_TICKETS = (
    ("Sin servicio desde anoche", "El módem tiene la luz LOS en rojo.", "Marcela Gómez", "urgent"),
    (
        "[TT] Lentitud por la tarde",
        "Entre las 19 y las 23 la velocidad cae a 2 Mbps.",
        "Raúl Díaz",
        "high",
    ),
    ("Cambio de plan a 300 Mb", "Quiere pasar al plan de 300 Mb.", "Lucía Fernández", "medium"),
    (
        "[TD] Visita técnica: reubicar ONU",
        "Mudó el equipo a otro ambiente.",
        "Jorge Ruiz",
        "medium",
    ),
    ("Factura duplicada", "Le llegaron dos facturas de noviembre.", "Carla Sosa", "low"),
    (
        "Corte de fibra en barrio Norte",
        "Varios vecinos reportan corte.",
        "Vecinos Bº Norte",
        "urgent",
    ),
    ("No navega por Wi-Fi", "Por cable funciona, por Wi-Fi no.", "Pablo Acosta", "medium"),
    ("Cambio de contraseña Wi-Fi", "Solicita cambio de clave.", "Ana Benítez", "low"),
    ("Microcortes frecuentes", "Se corta cada 10 minutos.", "Diego Romero", "high"),
    ("Baja del servicio", "Se muda a otra ciudad.", "Laura Medina", "low"),
    ("[TT] Sin señal en TV", "Sin señal en los canales HD.", "Sergio Álvarez", "medium"),
    (
        "Router reinicia solo",
        "El router se reinicia varias veces al día.",
        "Verónica Ríos",
        "medium",
    ),
)


def _time(text: str):  # type: ignore[no-untyped-def]
    from datetime import time

    return time.fromisoformat(text)


def load_team_demo() -> None:
    from ispdesk.operators.models import Area, Operator, Schedule, ShiftTag

    areas = {
        name: Area.objects.get_or_create(name=name, defaults={"description": description})[0]
        for name, description in AREAS
    }
    tags = {
        tag: ShiftTag.objects.get_or_create(tag=tag, defaults={"name": name})[0]
        for tag, name in SHIFT_TAGS
    }
    for username, (whatsapp, area_names, shifts, tag) in TEAM.items():
        user = User.objects.get(username=username)
        operator, created = Operator.objects.get_or_create(
            user=user, defaults={"whatsapp": whatsapp}
        )
        if not created:
            continue
        operator.areas.set([areas[name] for name in area_names])
        tags[tag].operators.add(operator)
        Schedule.objects.bulk_create(
            Schedule(operator=operator, kind=kind, weekday=day, start=_time(start), end=_time(end))
            for kind, windows in shifts.items()
            for days, start, end in windows
            for day in days
        )


def load_on_duty_demo(today=None) -> None:  # type: ignore[no-untyped-def]
    """Sofía and Juan alternate weekends and holidays for the next eight weeks."""
    from datetime import timedelta

    from django.utils import timezone

    from ispdesk.lib.calendar import national_holidays
    from ispdesk.operators.models import OnDuty, Operator

    today = today or timezone.localdate()
    holidays = national_holidays([today.year, today.year + 1])
    rotation = list(Operator.objects.filter(user__username__in=["sofia", "juan"]).order_by("pk"))
    if not rotation:
        return
    for offset in range(56):
        day = today + timedelta(days=offset)
        if day.weekday() < 5 and day not in holidays:
            continue
        operator = rotation[(day.isocalendar().week) % len(rotation)]
        OnDuty.objects.get_or_create(day=day, operator=operator)


def load_tickets_demo() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from ispdesk.operators.models import Area
    from ispdesk.tickets.actions import (
        NewTicket,
        do_auto_assign,
        do_change_status,
        do_close_ticket,
        do_comment_ticket,
        do_create_ticket,
    )
    from ispdesk.tickets.models import Source, Status

    support = Area.objects.filter(name="Soporte").first()
    supervisor = User.objects.filter(username="supervisor").first()
    now = timezone.now()
    outcomes = (None, Status.IN_PROGRESS, Status.WAITING, Status.CLOSED)
    for number in reversed(range(36)):  # oldest first, as they arrived
        subject, body, customer, priority = DEMO_TICKETS[number % len(DEMO_TICKETS)]
        new = NewTicket(
            subject=subject,
            body=body,
            source=(Source.GESTIONREAL, Source.SPLYNX, Source.MANUAL)[number % 3],
            external_id=f"demo-{number + 1}",
            priority=priority,
            customer_name=customer,
            customer_splynx_id=1000 + number,
            area_id=support.pk if support else None,
            created_at=now - timedelta(hours=3 * number + 1),
        )
        ticket, created = do_create_ticket(None, new, auto_assign=False)
        if not created or number % 9 == 8:
            continue  # a few stay in the unassigned queue
        # Assign as the engine would have when the ticket arrived, shifts and all.
        do_auto_assign(None, ticket, now=new.created_at)
        ticket.refresh_from_db()
        if ticket.assignee is None:
            continue
        actor = ticket.assignee.user
        outcome = outcomes[number % len(outcomes)]
        if outcome in (Status.IN_PROGRESS, Status.WAITING):
            do_change_status(actor, ticket, outcome)
            do_comment_ticket(actor, ticket, "Revisando con el cliente.")
        elif outcome == Status.CLOSED:
            do_comment_ticket(actor, ticket, "Se reinició la ONU y quedó funcionando.")
            do_close_ticket(supervisor if number % 2 else actor, ticket)
