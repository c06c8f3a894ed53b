"""Prepare a database for a benchmark run: `python -m bench.setup --gateways g.json --out s.json`.

Runs with the environment of the shape it prepares (DATABASE_URL, ISPDESK_DATA_DIR, ...):
migrates, then creates what an ISP's desk has during an outage — an Evolution number and a
Cloud API number (known webhook secrets and app secret, sending to the bench's fake gateways
without a rate limit), three areas, twelve operators on a 24/7 schedule with chat capacity
(two of them in two areas), a supervisor, the bot flow (a menu handing chats to each area)
and a login session per person for the websocket clients. Writes what the harness needs to
--out. Database creation for the PostgreSQL shape and the Redis flush are plain functions
here, run by the harness before this command.
"""

from __future__ import annotations

import argparse
import json
import secrets
from pathlib import Path
from typing import Any

from bench.floor import CREATE_TABLE

AREAS = ("Soporte", "Ventas", "Administración")
OPERATORS_PER_AREA = 4
CHAT_CAPACITY = 8
# Operators (by index) who also work a second area: area index → extra area index.
SECOND_AREA = {0: 1, 5: 2}
FLOW_NAME = "Bench: menú de la caída"
PG_ADMIN_DB = "postgres"


def bench_flow(area_ids: list[int]) -> dict[str, Any]:
    """A greeting menu: options 1-3 hand the chat to each area, 4 answers and stays."""
    from ispdesk.conversations.flows.samples import node  # after django.setup()

    redirects = [
        node(
            f"area{index}",
            "redirect",
            f"Te paso con {name}.",
            label=name,
            option=index + 1,
            area_id=area_id,
        )
        for index, (name, area_id) in enumerate(zip(AREAS, area_ids, strict=True))
    ]
    hours = node("horarios", "message", "Atendemos las 24 horas.", label="Horarios", option=4)
    return {
        "root": "inicio",
        "nodes": [
            node(
                "inicio",
                "menu",
                "¡Hola! Elegí una opción:",
                children=[item["id"] for item in redirects] + ["horarios"],
            ),
            *redirects,
            hours,
        ],
    }


# Outside Django: the PostgreSQL database and the Redis database ----------------------------


def recreate_pg_database(server_url: str, name: str) -> None:
    """Drop and create database `name` on the server of `server_url` (any database in it)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url(server_url), autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_pg_database(server_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url(server_url), autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def admin_url(server_url: str) -> str:
    """The URL of the server's `postgres` database (where databases are created)."""
    base, _slash, _name = server_url.rpartition("/")
    return f"{base}/{PG_ADMIN_DB}"


def flush_redis(url: str) -> str:
    """Empty the Redis database of `url`; returns the server's version."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
        return str(client.info("server").get("redis_version", ""))
    finally:
        client.close()


# Inside Django ---------------------------------------------------------------------------


def _session_for(user: Any) -> str:
    """A logged-in session, as `login()` stores it, without the password round trip."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return str(session.session_key)


def worked_every_hour_from_yesterday() -> None:
    """The team works around the clock from yesterday to the day after tomorrow, holidays
    included (calendar exceptions): the areas have no hours of their own, and a national
    holiday would close them, so a run on one measured courtesy messages and a queue nobody
    takes instead of the storm (7 December 2026 is one in Argentina)."""
    from datetime import time, timedelta

    from django.utils import timezone

    from ispdesk.operators.models import CalendarException

    today = timezone.localdate()
    CalendarException.objects.bulk_create(
        CalendarException(
            day=today + timedelta(days=offset),
            closed=False,
            start=time(0),
            end=time(0),
            note="bench: worked around the clock",
        )
        for offset in range(-1, 3)
    )


def seed(gateways: dict[str, Any]) -> dict[str, Any]:
    from django.db import connection, transaction

    from ispdesk.accounts.models import Role, User
    from ispdesk.conversations.flows.actions import FlowChanges, do_save_flow
    from ispdesk.conversations.flows.schema import FlowDocument
    from ispdesk.conversations.tests.conftest import desk_operator
    from ispdesk.messaging.models import ConnectionStatus, GatewayConnection, GatewayKind
    from ispdesk.operators.models import Area, ScheduleKind
    from ispdesk.operators.tests.conftest import always_on

    evolution_secret = secrets.token_urlsafe(32)
    cloud_secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        common = {"status": ConnectionStatus.CONNECTED, "rate_per_second": 0}
        evolution = GatewayConnection.objects.create(
            kind=GatewayKind.EVOLUTION,
            name="Bench Evolution",
            config=gateways["evolution"],
            webhook_secret=evolution_secret,
            is_default=True,
            **common,
        )
        cloud = GatewayConnection.objects.create(
            kind=GatewayKind.META_CLOUD,
            name="Bench Cloud API",
            config=gateways["cloud"],
            webhook_secret=cloud_secret,
            **common,
        )
        areas = [Area.objects.create(name=name) for name in AREAS]
        worked_every_hour_from_yesterday()
        admin = User.objects.create(username="bench-admin", role=Role.ADMIN, is_superuser=True)
        admin.set_unusable_password()
        admin.save()
        clients = []
        for index in range(OPERATORS_PER_AREA * len(AREAS)):
            home = index % len(AREAS)
            member_of = [areas[home]]
            if index in SECOND_AREA:
                member_of.append(areas[SECOND_AREA[index]])
            operator = desk_operator(
                f"bench-op{index:02d}",
                member_of,
                online=False,
                first_name=f"Operador {index:02d}",
                chat_capacity=CHAT_CAPACITY,
            )
            always_on(operator, ScheduleKind.WORK)
            clients.append(
                {
                    "name": operator.user.username,
                    "role": "operator",
                    "user_id": operator.user_id,
                    "operator_id": operator.pk,
                    "areas": [area.pk for area in member_of],
                    "session_key": _session_for(operator.user),
                }
            )
        supervisor = User.objects.create(username="bench-supervisor", role=Role.SUPERVISOR)
        supervisor.set_unusable_password()
        supervisor.save()
        clients.append(
            {
                "name": supervisor.username,
                "role": "supervisor",
                "user_id": supervisor.pk,
                "operator_id": None,
                "areas": [],
                "session_key": _session_for(supervisor),
            }
        )
        area_ids = [area.pk for area in areas]
        do_save_flow(
            admin,
            None,
            FlowChanges(
                name=FLOW_NAME,
                definition=FlowDocument.model_validate(bench_flow(area_ids)),
                is_default=True,
                triggers=["hola"],
                fallback_area_id=area_ids[0],
            ),
        )
    with connection.cursor() as cursor:
        cursor.execute(CREATE_TABLE)
        cursor.execute(
            "SELECT version()" if connection.vendor == "postgresql" else "SELECT sqlite_version()"
        )
        database_version = str(cursor.fetchone()[0])
        database: dict[str, str] = {"vendor": connection.vendor, "version": database_version}
        if connection.vendor == "postgresql":
            # Off (as on some test machines), no table of the run is ever analyzed: the
            # report says so, as its plans are then made without statistics.
            cursor.execute("SHOW autovacuum")
            database["autovacuum"] = str(cursor.fetchone()[0])
    return {
        "connections": {
            "evolution": {"id": evolution.pk, "secret": evolution_secret},
            "cloud": {
                "id": cloud.pk,
                "secret": cloud_secret,
                "app_secret": gateways["cloud"]["app_secret"],
                "phone_number_id": gateways["cloud"]["phone_number_id"],
            },
        },
        "areas": dict(zip(AREAS, area_ids, strict=True)),
        "clients": clients,
        "database": database,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateways", type=Path, required=True, help="bench.gateways --out file")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    state = seed(json.loads(args.gateways.read_text()))
    args.out.write_text(json.dumps(state, indent=2))


if __name__ == "__main__":
    main()
