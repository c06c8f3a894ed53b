"""The checks behind `ispdesk check-config`: settings, database, migrations, Redis."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection

from ispdesk.system.health import readiness_problem


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str = ""


def _redact(url: str) -> str:
    """Hide a password inside a connection URL."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else f"{scheme}://{user}@{host}"


def check_database() -> CheckResult:
    vendor = connection.vendor
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return CheckResult("database", False, f"{vendor}: {exc}".splitlines()[0][:200])
    return CheckResult("database", True, vendor)


def check_migrations() -> CheckResult:
    problem = readiness_problem()
    if problem:
        return CheckResult("migrations", False, problem + " (run `ispdesk migrate`)")
    return CheckResult("migrations", True)


def check_redis() -> CheckResult:
    if not settings.REDIS_URL:
        return CheckResult("redis", True, "not configured; in-memory channel layer")
    import redis

    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=3, socket_connect_timeout=3
        )
        client.ping()
    except ValueError:
        # The parser's message may quote a piece of an unencoded password.
        reason = "cannot parse the URL; percent-encode special characters in the password"
        return CheckResult("redis", False, f"{_redact(settings.REDIS_URL)}: {reason}")
    except (redis.RedisError, OSError) as exc:
        return CheckResult("redis", False, f"{_redact(settings.REDIS_URL)}: {exc}"[:200])
    return CheckResult("redis", True, _redact(settings.REDIS_URL))


def check_settings() -> CheckResult:
    problems = []
    if settings.DEBUG and not (settings.DEMO or settings.TESTING):
        problems.append("DEBUG is on; turn it off in production")
    if problems:
        return CheckResult("settings", True, "; ".join(problems))
    return CheckResult("settings", True)


def run_checks() -> Iterator[CheckResult]:
    yield check_settings()
    database = check_database()
    yield database
    if database.ok:
        yield check_migrations()
    yield check_redis()
