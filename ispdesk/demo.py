"""Demo data, loaded idempotently: running it twice creates nothing twice."""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.db import transaction

from ispdesk.accounts.models import PagePermission, Role, User

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
    return users
