"""Data-scale benchmarks: targets 7 and 8 of issue 7, measured in-process on PostgreSQL.

7. With 100,000 conversations and 1,000,000 messages, the console's conversation list
   (`/desk/`, `/desk/list/`) and `GET /api/conversations` answer in p95 <= 50 ms of server
   time, with a query count that depends on neither page size nor data size; opening a chat
   with 5,000 messages loads its latest page in <= 50 ms.
8. With 200 operators and 100,000 tickets, one assignment decision takes <= 5 ms with a
   bounded number of queries, and `do_assign_unassigned` of 1,000 tickets <= 5 s.

Run from the project root: `python -m bench.datascale [--quick] [--keep]`. It recreates the
database `ispdesk_datascale` on PostgreSQL (server from BENCH_PG_URL, default
postgres://postgres@127.0.0.1:5432), migrates, seeds with INSERT ... SELECT over
generate_series, measures through Django's test Client as an admin and as an operator (server
time = the time around the request, with the production settings: no DEBUG, CONN_MAX_AGE as
the environment says, the Redis channel layer of BENCH_REDIS_URL, default
redis://127.0.0.1:6379/14), and drops the database unless --keep. Query counts are taken at two
data sizes (a tenth, then all) and two page sizes (50, 200). Results go to
bench/results/datascale.json, with the EXPLAIN ANALYZE plans and cProfile output of the slow
paths beside it.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import re
import secrets
import statistics
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from time import perf_counter, process_time
from typing import Any

from bench.datascale_seed import (
    OPERATORS,
    BenchError,
    Scale,
    World,
    seed_active_chats,
    seed_big_chat,
    seed_closed_chats,
    seed_contacts,
    seed_lines,
    seed_team,
    seed_tickets,
    seeding,
    sql,
)

# The pg shape's Redis (`bench.run`): the layer a decision's events go through in production.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
# BENCH_DATASCALE_DB lets two runs (say, two people tuning different targets) not share one.
DB_NAME = os.environ.get("BENCH_DATASCALE_DB", "ispdesk_datascale")
RESULTS = Path(__file__).resolve().parent / "results"
LIST_TARGET_MS = CHAT_TARGET_MS = 50.0
DECISION_TARGET_MS = 5.0
ASSIGN_TARGET_S = 5.0
PAGE_SIZES = (50, 200)
BIG = f"big/{PAGE_SIZES[0]}"  # the sample the timing targets are read from
UNASSIGNED = 1_000
# Tables whose full scan grows with the data: a Seq Scan on one of them is a finding.
BIG_TABLES = (
    "conversations_conversation",
    "conversations_message",
    "conversations_conversationevent",
    "contacts_contact",
    "tickets_ticket",
    "tickets_ticketevent",
)

# (who, name, path, HTMX fragment, counted in the target's figure). `{limit}` is the page
# size, `{chat}` the 5,000-line chat; a path ending in `cursor=*` is the page after the first.
LIST_PROBES = [
    ("admin", "desk page", "/desk/?limit={limit}", False, True),
    ("admin", "desk list all", "/desk/list/?tab=all&limit={limit}", True, True),
    ("admin", "desk list queue", "/desk/list/?tab=queue&limit={limit}", True, True),
    ("admin", "api", "/api/conversations?limit={limit}", False, True),
    ("admin", "api tab=queue", "/api/conversations?tab=queue&limit={limit}", False, True),
    ("admin", "api status=active", "/api/conversations?status=active&limit={limit}", False, True),
    ("admin", "api page 2", "/api/conversations?status=closed&limit={limit}&cursor=*", False, True),
    ("operator", "desk page", "/desk/?limit={limit}", False, True),
    ("operator", "desk list mine", "/desk/list/?tab=mine&limit={limit}", True, True),
    ("operator", "desk list queue", "/desk/list/?tab=queue&limit={limit}", True, True),
    ("operator", "api", "/api/conversations?limit={limit}", False, True),
    ("operator", "api tab=mine", "/api/conversations?tab=mine&limit={limit}", False, True),
    ("operator", "api tab=queue", "/api/conversations?tab=queue&limit={limit}", False, True),
    (
        "operator",
        "api status=active",
        "/api/conversations?status=active&limit={limit}",
        False,
        True,
    ),
    ("operator", "api page 2", "/api/conversations?limit={limit}&cursor=*", False, True),
]
# Searching is part of the list, but a substring search scans by nature: reported beside it.
SEARCH_PROBES = [
    ("admin", "api search name", "/api/conversations?search=Gómez&limit={limit}", False, False),
    ("operator", "desk search phone", "/desk/list/?tab=queue&q=1150&limit={limit}", True, False),
]
CHAT_PROBES = [
    ("operator", "desk chat (fragment)", "/desk/c/{chat}/", True, True),
    ("admin", "desk chat (fragment)", "/desk/c/{chat}/", True, True),
    (
        "operator",
        "api messages latest",
        "/api/conversations/{chat}/messages?limit={limit}",
        False,
        True,
    ),
    ("operator", "desk chat (whole page)", "/desk/c/{chat}/", False, False),
    ("operator", "api conversation detail", "/api/conversations/{chat}", False, False),
]


FULL = Scale(conversations=100_000, tickets=100_000, runs=60)
QUICK = Scale(conversations=10_000, tickets=10_000, runs=20)


# Database and Django ------------------------------------------------------------------------


def server_url() -> str:
    return os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")


def admin_sql(*statements: str) -> None:
    """Statements on the server's `postgres` database (creating or dropping ours)."""
    import psycopg

    with psycopg.connect(f"{server_url()}/postgres", autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement.encode())


def setup_django() -> None:
    """Settings for this process only: our database, the production shape's Redis channel
    layer (decisions publish their events through it) and, when none is set, a throwaway
    key."""
    os.environ["DATABASE_URL"] = f"{server_url()}/{DB_NAME}"
    os.environ["REDIS_URL"] = REDIS_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ispdesk.settings")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise BenchError("the data-scale benchmark runs on PostgreSQL only")
    call_command("migrate", verbosity=0)


# Measuring ----------------------------------------------------------------------------------


class QueryCounter:
    """An execute wrapper counting the statements sent."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable[..., Any], *args: Any) -> Any:
        self.count += 1
        return execute(*args)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@dataclass
class Sample:
    url: str
    status: int
    rows: int
    p50_ms: float
    p95_ms: float
    cpu_p50_ms: float  # this process's CPU time: what contention on the machine can't inflate
    queries: int  # the fewest seen (a settings-cache refill adds one every few seconds)
    queries_max: int


@dataclass
class Probe:
    who: str  # "admin" or "operator"
    name: str
    path: str
    fragment: bool
    in_target: bool
    samples: dict[str, Sample] = field(default_factory=dict)  # "small/50" ... "big/200"

    @property
    def label(self) -> str:
        return f"{self.who} {self.name}"

    def url(self, client: Any, limit: int, chat: int) -> str:
        url = self.path.format(limit=limit, chat=chat)
        if url.endswith("&cursor=*"):
            first = client.get(url.removesuffix("&cursor=*")).json()
            url = url.replace("*", first["next_cursor"])
        return url

    def get(self, client: Any, url: str) -> Any:
        return client.get(url, headers={"HX-Request": "true"} if self.fragment else {})


def probes(table: list[tuple[str, str, str, bool, bool]]) -> list[Probe]:
    return [Probe(*row) for row in table]


def _rows(response: Any) -> int:
    if response.get("Content-Type", "").startswith("application/json"):
        data = json.loads(response.content)
        return len(data.get("items", [])) if isinstance(data, dict) else 0
    return len(re.findall(rb'class="desk-(?:row|line)[" ]', response.content))


def measure(client: Any, probe: Probe, limit: int, runs: int, chat: int) -> Sample:
    from django.db import connection

    url = probe.url(client, limit, chat)
    response = probe.get(client, url)  # warm-up: caches, a first mark-as-read
    counter = QueryCounter()
    times, cpu, counts = [], [], []
    with connection.execute_wrapper(counter):
        for _ in range(runs):
            counter.count = 0
            start, start_cpu = perf_counter(), process_time()
            response = probe.get(client, url)
            times.append((perf_counter() - start) * 1000)
            cpu.append((process_time() - start_cpu) * 1000)
            counts.append(counter.count)
    return Sample(
        url=url,
        status=response.status_code,
        rows=_rows(response),
        p50_ms=round(statistics.median(times), 2),
        p95_ms=round(pct(times, 0.95), 2),
        cpu_p50_ms=round(statistics.median(cpu), 2),
        queries=min(counts),
        queries_max=max(counts),
    )


def clients(world: World) -> dict[str, Any]:
    from django.test import Client

    found = {}
    for who, user in (("admin", world.admin), ("operator", world.operator_user)):
        found[who] = Client(HTTP_HOST="localhost")
        found[who].force_login(user)
    return found


def run_probes(found: list[Probe], world: World, size: str, limits: dict[int, int]) -> None:
    by_who = clients(world)
    for probe in found:
        for limit, runs in limits.items():
            sample = measure(by_who[probe.who], probe, limit, runs, world.big_chat)
            probe.samples[f"{size}/{limit}"] = sample


def connect_ms() -> float:
    """What opening a database connection costs: with CONN_MAX_AGE=0 (the default) every
    request pays it once, inside the server times above."""
    from django.db import connection

    times = []
    for _ in range(20):
        connection.close()
        start = perf_counter()
        connection.ensure_connection()
        times.append((perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def constant(probe: Probe) -> bool:
    return len({sample.queries for sample in probe.samples.values()}) == 1


# Target 8 -----------------------------------------------------------------------------------


def decisions(label: str, runs: int) -> dict[str, Any]:
    """New tickets, one at a time, given by the engine: the time and statements of
    `do_auto_assign` (lock the team and the ticket, read the facts, decide, write), and of
    reading the facts and deciding alone."""
    from django.db import connection
    from django.utils import timezone

    from ispdesk.tickets.actions import NewTicket, do_auto_assign, do_create_ticket
    from ispdesk.tickets.assignment import decide
    from ispdesk.tickets.team import team_facts

    counter = QueryCounter()
    times, cpu, counts, facts, rules = [], [], [], [], set()
    for i in range(runs + 3):
        text = "Sin servicio [TT]" if i % 5 == 0 else "Sin servicio"
        new = NewTicket(subject=text, source="webhook", external_id=f"{label}-{i}")
        ticket, _new = do_create_ticket(None, new, auto_assign=False)
        counter.count = 0
        with connection.execute_wrapper(counter):
            start, start_cpu = perf_counter(), process_time()
            decision = do_auto_assign(None, ticket)
            elapsed = (perf_counter() - start) * 1000
            elapsed_cpu = (process_time() - start_cpu) * 1000
        if decision.operator_id is None:
            raise BenchError(f"the engine assigned nobody: {decision.reason}")
        start = perf_counter()
        decide(text, *team_facts(timezone.now()))
        if i >= 3:  # the first ones warm the settings cache and the holiday table
            times.append(elapsed)
            cpu.append(elapsed_cpu)
            counts.append(counter.count)
            facts.append((perf_counter() - start) * 1000)
            rules.add(str(decision.rule))
    commits = commit_ms()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(pct(times, 0.95), 2),
        "cpu_p50_ms": round(statistics.median(cpu), 2),
        "facts_and_decide_p50_ms": round(statistics.median(facts), 2),
        "write_commit_p50_ms": round(statistics.median(commits), 2),
        "write_commit_p95_ms": round(pct(commits, 0.95), 2),
        "queries": min(counts),
        "queries_max": max(counts),
        "rules": sorted(rules),
    }


def commit_ms(runs: int = 40) -> list[float]:
    """What committing a one-row write costs on this machine (the WAL flush to disk): a
    floor under every decision, which commits one, that no query or plan can lower."""
    from django.db import transaction

    sql("CREATE TABLE IF NOT EXISTS bench_commit (n integer)")
    times = []
    for n in range(runs):
        start = perf_counter()
        with transaction.atomic():
            sql("INSERT INTO bench_commit VALUES (%s)", [n])
        times.append((perf_counter() - start) * 1000)
    return times


def settle_tickets() -> None:
    """VACUUM the tickets as autovacuum does soon after a bulk load. A live database's
    visibility map lets the engine count each operator's open tickets from the index alone;
    right after the seed every index entry sends a read to the table instead."""
    sql("VACUUM (ANALYZE) tickets_ticket")


def assign_unassigned() -> dict[str, Any]:
    from django.db import connection

    from ispdesk.tickets.actions import do_assign_unassigned
    from ispdesk.tickets.models import Ticket

    waiting = Ticket.objects.unassigned().count()
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        start, start_cpu = perf_counter(), process_time()
        results = do_assign_unassigned(None)
        seconds, cpu = perf_counter() - start, process_time() - start_cpu
    assigned = sum(1 for _id, decision in results if decision.operator_id is not None)
    return {
        "waiting": waiting,
        "assigned": assigned,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "queries": counter.count,
        "queries_per_ticket": round(counter.count / max(1, len(results)), 1),
    }


# Plans and profiles -------------------------------------------------------------------------


def explain_requests(found: list[Probe], world: World, out: list[str]) -> list[str]:
    """EXPLAIN ANALYZE the two slowest statements of each probe (full size, page 50);
    returns the findings: scans of tables that grow with the data."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    by_who = clients(world)
    captured: list[tuple[str, str]] = []
    for probe in found:
        with CaptureQueriesContext(connection) as context:
            probe.get(by_who[probe.who], probe.samples[BIG].url)
        slowest = sorted(context.captured_queries, key=lambda q: -float(q["time"]))[:2]
        captured += [(probe.label, query["sql"]) for query in slowest]
    return explain(captured, out)


def explain(captured: list[tuple[str, str]], out: list[str]) -> list[str]:
    findings, seen = [], dict[str, str]()
    for label, statement in captured:
        if not statement.lstrip().upper().startswith("SELECT"):
            continue
        if statement in seen:
            out.append(f"== {label}: the same statement as {seen[statement]}, above\n")
            continue
        seen[statement] = label
        plan = "\n".join(row[0] for row in sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}"))
        found = re.search(r"Execution Time: ([\d.]+) ms", plan)
        took = found.group(1) if found else "?"
        out.append(f"== {label} ({took} ms)\n{statement}\n{plan}\n")
        scans = [t for t in BIG_TABLES if re.search(rf"Seq Scan on {t}\b", plan)]
        if scans:
            findings.append(f"{label}: Seq Scan on {', '.join(scans)} ({took} ms)")
    return findings


def profile(label: str, work: Callable[[], Any], out: list[str], repeat: int = 20) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        work()
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(15)
    out.append(f"== {label} (x{repeat})\n{text.getvalue()}")


def profile_slow(passed: dict[str, bool], found: list[Probe], world: World) -> list[str]:
    """cProfile the requests that missed their target (the slowest two when none did), one
    decision, and `do_assign_unassigned` of 200 tickets when it missed its target."""
    from ispdesk.tickets.actions import (
        NewTicket,
        do_assign_unassigned,
        do_auto_assign,
        do_create_ticket,
    )

    out: list[str] = []
    ranked = sorted(found, key=lambda p: -p.samples[BIG].p95_ms)
    slow = [p for p in ranked if p.in_target and p.samples[BIG].p95_ms > LIST_TARGET_MS]
    by_who = clients(world)
    for probe in slow[:4] or ranked[:2]:
        url, client = probe.samples[BIG].url, by_who[probe.who]
        profile(f"{probe.label}: GET {url}", partial(probe.get, client, url), out)
    new = [NewTicket("Corte", external_id=f"p-{i}") for i in range(20)]
    tickets = iter([do_create_ticket(None, ticket, auto_assign=False)[0] for ticket in new])
    profile("do_auto_assign (one new ticket)", lambda: do_auto_assign(None, next(tickets)), out)
    if not passed["8_assign_1000"]:
        for i in range(200):
            do_create_ticket(
                None, NewTicket(subject="Corte", external_id=f"q-{i}"), auto_assign=False
            )
        profile("do_assign_unassigned (200 tickets)", lambda: do_assign_unassigned(None), out, 1)
    return out


# Report -------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import django

    cpuinfo = Path("/proc/cpuinfo")
    models = [
        line.split(":", 1)[1].strip()
        for line in (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
        if line.startswith("model name")
    ]
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": models[0] if models else platform.processor(),
        "cores": os.cpu_count(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgresql": sql("SHOW server_version")[0][0],
    }


def _worst(found: list[Probe]) -> float:
    return max(probe.samples[BIG].p95_ms for probe in found if probe.in_target)


def _all_ok(found: list[Probe]) -> bool:
    return all(sample.status == 200 for probe in found for sample in probe.samples.values())


def build_report(
    groups: dict[str, list[Probe]], decided: dict[str, Any], assigned: dict[str, Any]
) -> dict[str, Any]:
    lists, chats = groups["list"], groups["chat"]
    list_ms, chat_ms = _worst(lists), _worst(chats)
    targets = {
        "7_list_p95_ms": list_ms,
        "7_list_queries": {p.label: {k: s.queries for k, s in p.samples.items()} for p in lists},
        "7_chat_open_ms": chat_ms,
        "8_decision_ms": decided["big"]["p95_ms"],
        "8_decision_queries": decided["big"]["queries"],
        "8_assign_1000_s": assigned["seconds"],
    }
    passed = {
        "7_list_p95": list_ms <= LIST_TARGET_MS and _all_ok(lists),
        "7_list_queries_constant": all(constant(probe) for probe in lists),
        "7_chat_open": chat_ms <= CHAT_TARGET_MS and _all_ok(chats),
        "8_decision": decided["big"]["p95_ms"] <= DECISION_TARGET_MS,
        "8_decision_queries_bounded": decided["small"]["queries"] == decided["big"]["queries"],
        "8_assign_1000": assigned["seconds"] <= ASSIGN_TARGET_S
        and assigned["assigned"] == assigned["waiting"] == UNASSIGNED,
    }
    details: dict[str, Any] = {
        name: [asdict(probe) for probe in found] for name, found in groups.items()
    }
    return {
        "targets": targets,
        "pass": passed,
        "details": details | {"decisions": decided, "assign_unassigned": assigned},
    }


def print_probes(title: str, found: list[Probe]) -> None:
    keys = list(found[0].samples)
    header = f"{'probe':34}{'rows':>5}{'p50':>8}{'p95':>8}{'cpu':>7}  queries {'/'.join(keys)}"
    print(f"\n{title}\n  {header}")
    for probe in found:
        shown = probe.samples[BIG]
        counts = "/".join(str(probe.samples[key].queries) for key in keys)
        flags = "" if constant(probe) else "  CHANGES"
        flags += "".join(f"  HTTP {s.status}" for s in probe.samples.values() if s.status != 200)
        times = f"{shown.p50_ms:>8.1f}{shown.p95_ms:>8.1f}{shown.cpu_p50_ms:>7.1f}"
        print(f"  {probe.label:34}{shown.rows:>5}{times}  {counts}{flags}")


def print_report(report: dict[str, Any], groups: dict[str, list[Probe]]) -> None:
    print_probes(
        "Conversation lists (ms at the full size, page 50; cpu = this process)", groups["list"]
    )
    print_probes("Opening the 5,000-line chat", groups["chat"])
    print_probes("Searching (beside target 7, not in it)", groups["search"])
    targets, passed, details = report["targets"], report["pass"], report["details"]
    small, big = details["decisions"]["small"], details["decisions"]["big"]
    assigned = details["assign_unassigned"]
    changing = [
        name for name, counts in targets["7_list_queries"].items() if len(set(counts.values())) > 1
    ]
    decision_note = (
        f"p50 {big['p50_ms']:.2f} ms (cpu {big['cpu_p50_ms']:.2f}); facts + decide alone p50 "
        f"{big['facts_and_decide_p50_ms']:.2f} ms; a one-row write commits in "
        f"{big['write_commit_p50_ms']:.2f} (p95 {big['write_commit_p95_ms']:.2f}) ms"
    )
    assign_note = (
        f"{assigned['assigned']}/{assigned['waiting']} assigned, "
        f"{assigned['queries_per_ticket']} queries each; cpu {assigned['cpu_seconds']:.2f} s"
    )
    rows = [
        ("7 list p95 (worst probe)", f"{targets['7_list_p95_ms']:.1f} ms", "<= 50 ms",
         "7_list_p95", ""),
        ("7 list query count", f"{len(changing)} vary", "constant", "7_list_queries_constant",
         ", ".join(changing)),
        ("7 open 5,000-line chat p95", f"{targets['7_chat_open_ms']:.1f} ms", "<= 50 ms",
         "7_chat_open", ""),
        ("8 one decision p95", f"{big['p95_ms']:.2f} ms", "<= 5 ms", "8_decision", decision_note),
        ("8 decision queries", str(big["queries"]), "bounded", "8_decision_queries_bounded",
         f"{small['queries']} with a tenth of the tickets"),
        ("8 assign_unassigned 1,000", f"{assigned['seconds']:.2f} s", "<= 5 s", "8_assign_1000",
         assign_note),
    ]  # fmt: skip
    print(f"\n  {'figure':30}{'value':>12}  {'target':10}{'result':8}notes")
    for figure, value, target, key, notes in rows:
        print(f"  {figure:30}{value:>12}  {target:10}{'PASS' if passed[key] else 'FAIL':8}{notes}")
    for finding in report["findings"]:
        print(f"  finding: {finding}")
    print(
        f"  load average {report['machine']['load_average']} on {report['machine']['cores']} "
        f"cores; a new database connection costs {report['connect_p50_ms']} ms per request"
    )
    print(f"\n  written: {RESULTS}/datascale.json, datascale_explain.txt, datascale_profile.txt")


# Running ------------------------------------------------------------------------------------


def run(scale: Scale, *, quick: bool) -> int:
    from django.conf import settings

    print(f"ispdesk data-scale benchmark ({'quick' if quick else 'full'}), database {DB_NAME}")
    setup_django()
    world, seeds = World(), dict[str, float]()
    started = machine()
    small = scale.conversations // 10
    with seeding("team and contacts", seeds):
        seed_team(world)
        seed_contacts(world, scale)
    with seeding(f"{small:,} chats", seeds):
        seed_active_chats(world, scale)
        seed_big_chat(world)
        seed_lines(world, (1, seed_closed_chats(world, scale, small - scale.active)[1]))
    groups = {
        "list": probes(LIST_PROBES),
        "search": probes(SEARCH_PROBES),
        "chat": probes(CHAT_PROBES),
    }
    print("  measuring at the small size ...")
    run_probes(groups["list"] + groups["search"], world, "small", dict.fromkeys(PAGE_SIZES, 3))
    with seeding(f"{scale.conversations:,} chats", seeds):
        seed_lines(world, seed_closed_chats(world, scale, scale.conversations - scale.active))
    counted = sql(
        "SELECT (SELECT count(*) FROM conversations_conversation), "
        "(SELECT count(*) FROM conversations_message)"
    )[0]
    print(f"  measuring at {counted[0]:,} chats and {counted[1]:,} messages ...")
    timed = {PAGE_SIZES[0]: scale.runs, PAGE_SIZES[1]: max(5, scale.runs // 4)}
    run_probes(groups["list"] + groups["search"], world, "big", timed)
    run_probes(groups["chat"], world, "big", {PAGE_SIZES[0]: scale.runs})

    with seeding(f"{scale.tickets // 10:,} tickets", seeds):
        seed_tickets(world, scale.tickets // 10)
    settle_tickets()
    print("  timing decisions ...")
    decided = {"small": decisions("small", max(10, scale.runs // 3))}
    with seeding(f"{scale.tickets:,} tickets", seeds):
        seed_tickets(world, scale.tickets - UNASSIGNED, unassigned=UNASSIGNED)
    settle_tickets()
    decided["big"] = decisions("big", scale.runs)
    print(f"  assigning {UNASSIGNED:,} waiting tickets ...")
    assigned = assign_unassigned()

    print("  explaining and profiling ...")
    plans: list[str] = []
    findings = explain_requests(groups["list"] + groups["chat"] + groups["search"], world, plans)
    report = build_report(groups, decided, assigned)
    profiles = profile_slow(report["pass"], groups["list"] + groups["chat"], world)
    report |= {
        "findings": findings,
        "quick": quick,
        "sizes": {
            "conversations": counted[0],
            "messages": counted[1],
            "tickets": world.tickets_seeded,
            "operators": OPERATORS,
        },
        "seed_seconds": seeds,
        "conn_max_age": settings.DATABASES["default"].get("CONN_MAX_AGE", 0),
        "connect_p50_ms": connect_ms(),
        "machine": started | {"load_average_end": machine()["load_average"]},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "datascale.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (RESULTS / "datascale_explain.txt").write_text("\n".join(plans))
    (RESULTS / "datascale_profile.txt").write_text("\n".join(profiles))
    print_report(report, groups)
    return 0 if all(report["pass"].values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k chats and tickets, not 100k")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    admin_sql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)', f'CREATE DATABASE "{DB_NAME}"')
    try:
        return run(QUICK if args.quick else FULL, quick=args.quick)
    finally:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        if not args.keep:
            admin_sql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
