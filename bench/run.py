"""Run the outage-storm benchmark: `python -m bench.run [--shape embedded|pg|both] [--quick]
[--scenarios steady-100 storm ...]`.

For each shape: start the fake gateways, prepare a fresh database (`bench.setup`), start
ispdesk in that shape and the floor beside it, then for each scenario: connect the operator
consoles (`bench.wsclients`), send the timetable open-loop, wait until events stop, read the
database (`bench.dbcheck`), and send the same timetable to the floor. CPU time and RSS of
every server process are sampled throughout. The report is printed and written to
docs/benchmarks.md; raw figures to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench import analysis, loadgen, report, setup
from bench.processes import (
    Sampler,
    Service,
    cpu_spent,
    log_errors,
    run_command,
    wait_file,
    wait_http,
    wait_log,
)
from bench.scenarios import SOAK, Scenario, choose, default_scenarios
from bench.stats import growth_over_last_half
from bench.timetable import Signing, Timetable, build
from bench.wsclients import closes_path

ROOT = Path(__file__).resolve().parent.parent
PG_URL = "postgres://postgres@127.0.0.1:5432/ispdesk_bench"
PG_DATABASE = "ispdesk_bench"
# A Redis database the test suite never uses (its fallback is 15).
REDIS_URL = "redis://127.0.0.1:6379/14"
HOST = "127.0.0.1"
WEB_WORKERS = 2
# Events quiet this long after the last send: processing is done (or stuck).
QUIET_SECONDS = 3.0
DRAIN_LIMIT = 120.0
DB_SETTLE_LIMIT = 60.0
STATUS_POLL = 0.5
LOADGEN_NICE = -5
MB = 1024 * 1024
# Variables of the caller's environment that would change what is measured.
SCRUBBED = ("DATABASE_URL", "REDIS_URL", "ISPDESK_TESTING", "ISPDESK_DEMO", "DEBUG", "PORT", "HOST")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class ShapeRun:
    shape: str
    workdir: Path
    env: dict[str, str]
    state: dict[str, Any] = field(default_factory=dict)
    gateways: dict[str, Any] = field(default_factory=dict)
    desk_url: str = ""
    floor_url: str = ""
    floor_env: dict[str, str] = field(default_factory=dict)
    desk_names: list[str] = field(default_factory=list)
    sampler: Sampler | None = None
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    def python(self, module: str, *args: str) -> list[str]:
        return [sys.executable, "-m", module, *args]

    def signing(self) -> Signing:
        cloud = self.state["connections"]["cloud"]
        return Signing(cloud["app_secret"], cloud["phone_number_id"])

    def paths(self) -> dict[str, str]:
        return {
            gateway: f"/hooks/whatsapp/{self.state['connections'][gateway]['secret']}/"
            for gateway in ("evolution", "cloud")
        }


def base_env(workdir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in SCRUBBED}
    env.update(
        DJANGO_SETTINGS_MODULE="ispdesk.settings",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=f"{HOST},localhost",
        ISPDESK_DATA_DIR=str(workdir / "data"),
        LOG_LEVEL="INFO",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
    )
    return env


# One scenario ------------------------------------------------------------------------------


def _accepted(url: str) -> int:
    return int(httpx.get(f"{url}/_bench/accepted", timeout=5).json()["accepted"])


def receipt_ranges(run: ShapeRun, expected_new: int) -> dict[str, tuple[int, int]]:
    """Outbound numbers receipts may name: some already sent, some not yet issued."""
    ranges = {}
    for gateway, url in run.gateways["urls"].items():
        sent = _accepted(url)
        ranges[gateway] = (max(1, sent - 200), sent + max(10, expected_new))
    return ranges


def _wait_quiet(ws: Service, last_due: float) -> dict[str, Any]:
    """Poll the consoles until no event came for QUIET_SECONDS after the last send."""
    deadline = time.time() + DRAIN_LIMIT
    status: dict[str, Any] = {"events": 0, "last": 0.0}
    while time.time() < deadline:
        ws.send_line("status")
        status = json.loads(ws.read_line(30))
        now = time.time()
        if now - last_due >= QUIET_SECONDS and now - max(status["last"], last_due) >= QUIET_SECONDS:
            return {**status, "quiet": True}
        time.sleep(STATUS_POLL)  # bounded polling of the consoles, not a wait standing in for sync
    return {**status, "quiet": False}


def _dbcheck(
    run: ShapeRun, timetable: Timetable, name: str, expected: int, floor: bool
) -> dict[str, Any]:
    from bench import payloads

    spec = {
        "prefixes": {g: payloads.id_prefix(g, timetable.tag) for g in payloads.GATEWAYS},
        "expected": expected,
        "wait": DB_SETTLE_LIMIT,
        "floor": floor,
    }
    spec_path = run.workdir / f"{name}-spec.json"
    out = run.workdir / f"{name}-facts.json"
    spec_path.write_text(json.dumps(spec))
    run_command(
        f"{name}-dbcheck",
        run.python(
            "bench.dbcheck",
            "--state",
            str(run.workdir / "state.json"),
            "--spec",
            str(spec_path),
            "--out",
            str(out),
        ),
        run.env,
        run.logs,
        timeout=DB_SETTLE_LIMIT + 120,
    )
    facts: dict[str, Any] = json.loads(out.read_text())
    return facts


def _memory(run: ShapeRun, names: Sequence[str], since: float, until: float) -> dict[str, Any]:
    assert run.sampler is not None
    window = run.sampler.window(names, since, until)
    return {label: round(item["peak_rss"] / MB, 1) for label, item in window.items()}


def _web_rss(run: ShapeRun, since: float, until: float) -> dict[str, Any]:
    assert run.sampler is not None
    web = [name for name in run.desk_names if name in ("web", "serve")]
    window = run.sampler.window(web, since, until)
    result = {}
    for label, item in window.items():
        if run.shape == "pg" and not label.startswith("web worker"):
            continue  # the supervisor forks the workers and serves nothing
        series = [(at, rss / MB) for at, rss in item["series"]]
        if not series:
            continue
        growth = growth_over_last_half(series)
        result[label] = {
            "end_mb": round(series[-1][1], 1),
            "growth_last_half_mb": None if growth is None else round(growth, 2),
        }
    return result


def run_desk(run: ShapeRun, scenario: Scenario, timetable: Timetable) -> dict[str, Any]:
    assert run.sampler is not None
    name = f"{scenario.name}-desk"
    clients_path = run.workdir / "clients.json"
    events_path = run.workdir / f"{name}-events.jsonl"
    ws = Service(
        f"{name}-ws",
        run.python(
            "bench.wsclients",
            "--url",
            run.desk_url.replace("http", "ws", 1) + "/ws/",
            "--clients",
            str(clients_path),
            "--out",
            str(events_path),
        ),
        run.env,
        run.logs,
        stdin=True,
        stdout_pipe=True,
        outside=True,
    )
    problems: list[str] = []
    try:
        ready = ws.read_line(60)
        if ready != "ready":
            raise RuntimeError(f"the websocket clients did not start: {ready}\n{ws.log_tail()}")
        before = run.sampler.cpu_by_process(run.desk_names)
        since = time.time()
        start, outcomes = loadgen.run_sync(run.desk_url, run.paths(), timetable.deliveries)
        quiet = _wait_quiet(ws, start + timetable.span)
        if not quiet["quiet"]:
            problems.append(f"events still arriving {DRAIN_LIMIT:.0f} s after the last send")
        after = run.sampler.cpu_by_process(run.desk_names)
        until = time.time()
        ws.send_line("stop")
        if ws.read_line(120) != "done":
            problems.append("the websocket clients did not write their events")
    finally:
        ws.stop()
    # What the database must end up holding: every message acknowledged at least once.
    acked = analysis.acked_ids(timetable, outcomes)
    facts = _dbcheck(run, timetable, name, len(acked), floor=False)
    if not facts["settle"]["settled"]:
        problems.append(
            f"the database had not stored and handed over every acknowledged message "
            f"{facts['settle']['waited']:.0f} s after the events stopped"
        )
    events = analysis.events_from_lines(events_path.read_text().splitlines())
    closes = json.loads(closes_path(events_path).read_text())
    clients = analysis.clients_from_state(run.state["clients"])
    figures = analysis.ack_figures(timetable, start, outcomes)
    screen = analysis.screen_figures(timetable, start, events, clients, facts)
    figures.update(screen)
    figures["bot"] = analysis.bot_figures(timetable, start, facts)
    figures["replies_sent"] = analysis.replies_figures(facts, start + timetable.span)
    figures["correctness"] = analysis.correctness(timetable, facts, acked, screen)
    figures["cpu"] = analysis.cpu_figures(cpu_spent(before, after), len(timetable.unique_ids))
    figures["peak_rss_mb"] = _memory(run, run.desk_names, since, until)
    last_due = start + timetable.span
    last_activity = max(
        screen["last_screen_event"],
        start + max((o.finished - start for o in outcomes), default=0.0),
    )
    figures["drain_s"] = round(max(0.0, last_activity - last_due), 3)
    figures["duration"] = scenario.duration
    figures["sent"] = timetable.counts()
    figures["settle"] = facts["settle"]
    if figures["failures"]:
        problems.append(f"deliveries not answered 2xx: {figures['failures']}")
    if scenario.kind == SOAK:
        figures["web_rss"] = _web_rss(run, since, until)
    figures["console_reconnects"] = {name: len(items) for name, items in closes.items()}
    if closes:
        reasons = sorted({why for items in closes.values() for _at, why in items})
        problems.append(
            f"{sum(len(items) for items in closes.values())} console disconnects during the "
            f"scenario ({'; '.join(reasons)[:300]}): events sent meanwhile were lost"
        )
    figures["problems"] = problems
    return figures


def run_floor(run: ShapeRun, scenario: Scenario, timetable: Timetable) -> dict[str, Any]:
    assert run.sampler is not None
    name = f"{scenario.name}-floor"
    # Started for its own run only, so it holds no database connections and takes no CPU
    # while ispdesk is measured.
    floor = Service(
        name,
        run.python(
            "bench.floor",
            "--port",
            run.floor_url.rsplit(":", 1)[1],
            "--workers",
            str(WEB_WORKERS if run.shape == "pg" else 1),
        ),
        run.floor_env,
        run.logs,
    )
    try:
        wait_http(f"{run.floor_url}/healthz", floor)
        run.sampler.watch("floor", floor)
        before = run.sampler.cpu_by_process(["floor"])
        since = time.time()
        start, outcomes = loadgen.run_sync(run.floor_url, run.paths(), timetable.deliveries)
        after = run.sampler.cpu_by_process(["floor"])
        until = time.time()
    finally:
        run.sampler.forget("floor")
        floor.stop()
    acked = analysis.acked_ids(timetable, outcomes)
    facts = _dbcheck(run, timetable, name, len(acked), floor=True)
    figures = analysis.ack_figures(timetable, start, outcomes)
    figures["correctness"] = analysis.correctness(timetable, facts, acked, None)
    figures["cpu"] = analysis.cpu_figures(cpu_spent(before, after), len(timetable.unique_ids))
    figures["peak_rss_mb"] = _memory(run, ["floor"], since, until)
    figures["sent"] = timetable.counts()
    return figures


def run_scenario(run: ShapeRun, tag: int, scenario: Scenario, floor: bool) -> dict[str, Any]:
    expected = round((scenario.rate * scenario.duration) or scenario.customers * 2.5)
    timetable = build(
        scenario,
        tag,
        run.signing(),
        epoch=time.time(),
        receipt_ids=receipt_ranges(run, expected // 2),
    )
    print(f"[{run.shape}] {scenario.name}: {timetable.counts()}", flush=True)
    result = {"ispdesk": run_desk(run, scenario, timetable)}
    if floor and scenario.floor_too:
        result["floor"] = run_floor(run, scenario, timetable)
    return result


# One shape ---------------------------------------------------------------------------------


def _start_shape(run: ShapeRun, services: dict[str, Service], pg_url: str, redis_url: str) -> None:
    run.logs.mkdir(parents=True, exist_ok=True)
    if run.shape == "pg":
        setup.recreate_pg_database(pg_url, PG_DATABASE)
        run.versions["Redis"] = setup.flush_redis(redis_url)
        run.env.update(DATABASE_URL=pg_url, REDIS_URL=redis_url)
    else:
        run.env["DATABASE_URL"] = f"sqlite:///{run.workdir / 'data' / 'ispdesk.sqlite3'}"
    gateways_file = run.workdir / "gateways.json"
    services["gateways"] = Service(
        "gateways", run.python("bench.gateways", "--out", str(gateways_file)), run.env, run.logs
    )
    wait_file(gateways_file, services["gateways"])
    run.gateways = json.loads(gateways_file.read_text())
    state_file = run.workdir / "state.json"
    run_command(
        "setup",
        run.python("bench.setup", "--gateways", str(gateways_file), "--out", str(state_file)),
        run.env,
        run.logs,
        timeout=600,
    )
    run.state = json.loads(state_file.read_text())
    (run.workdir / "clients.json").write_text(json.dumps(run.state["clients"]))
    database = run.state["database"]
    version = database["version"].split(" on ")[0].removeprefix("PostgreSQL ")
    if database.get("autovacuum") == "off":
        version += " with autovacuum off"
    run.versions["PostgreSQL" if database["vendor"] == "postgresql" else "SQLite"] = version
    port, floor_port = free_port(), free_port()
    run.desk_url, run.floor_url = f"http://{HOST}:{port}", f"http://{HOST}:{floor_port}"
    bind = ["--host", HOST, "--port", str(port)]
    if run.shape == "pg":
        services["web"] = Service(
            "web",
            run.python("ispdesk.cli", "web", "--workers", str(WEB_WORKERS), *bind),
            run.env,
            run.logs,
        )
        services["worker"] = Service(
            "worker", run.python("ispdesk.cli", "worker"), run.env, run.logs
        )
        run.desk_names = ["web", "worker"]
    else:
        services["serve"] = Service(
            "serve", run.python("ispdesk.cli", "serve", *bind), run.env, run.logs
        )
        run.desk_names = ["serve"]
    connections = run.state["connections"]
    run.floor_env = {
        **run.env,
        "FLOOR_DATABASE": pg_url
        if run.shape == "pg"
        else str(run.workdir / "data" / "ispdesk.sqlite3"),
        "FLOOR_REDIS_URL": redis_url if run.shape == "pg" else "",
        "FLOOR_SECRETS": json.dumps(
            {
                connections["evolution"]["secret"]: "",
                connections["cloud"]["secret"]: connections["cloud"]["app_secret"],
            }
        ),
    }
    wait_http(f"{run.desk_url}/healthz", services[run.desk_names[0]])
    if "worker" in services:
        wait_log(services["worker"], "ispdesk worker started")
    run.sampler = Sampler({name: services[name] for name in run.desk_names})
    run.sampler.start()


def run_shape(
    shape: str,
    scenarios: Sequence[Scenario],
    *,
    floor: bool,
    keep: bool,
    pg_url: str,
    redis_url: str,
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    workdir = Path(tempfile.mkdtemp(prefix=f"ispdesk-bench-{shape}-"))
    run = ShapeRun(shape, workdir, base_env(workdir))
    services: dict[str, Service] = {}
    results: dict[str, Any] = {}
    notes: list[str] = []
    try:
        _start_shape(run, services, pg_url, redis_url)
        for tag, scenario in enumerate(scenarios):
            results[scenario.name] = run_scenario(run, tag, scenario, floor)
            print(f"[{shape}] {scenario.name} done", flush=True)
    finally:
        if run.sampler is not None:
            run.sampler.stop()
        for service in reversed(list(services.values())):
            service.stop()
        desk_logs = [services[name].log_path for name in run.desk_names if name in services]
        for count, text in log_errors(desk_logs):
            notes.append(f"{shape}: the server logged {count} x {text}")
        if shape == "pg" and not keep:
            setup.drop_pg_database(pg_url, PG_DATABASE)
        if keep:
            print(f"[{shape}] logs and data kept in {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return results, run.versions, notes


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="The outage-storm benchmark (issue 7).")
    parser.add_argument("--shape", choices=("embedded", "pg", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="shortened scenarios (a smoke run)")
    parser.add_argument("--scenarios", nargs="+", metavar="NAME", help="only these scenarios")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor runs")
    parser.add_argument("--keep", action="store_true", help="keep logs, data and the PG database")
    parser.add_argument("--pg-url", default=PG_URL, help=f"default {PG_URL}")
    parser.add_argument("--redis-url", default=REDIS_URL, help=f"default {REDIS_URL}")
    return parser.parse_args(argv)


def preflight(pg_url: str, redis_url: str) -> str:
    """What the PostgreSQL shape lacks, in words ("" when both servers answer)."""
    import psycopg
    import redis

    try:
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=3)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        return f"Redis at {redis_url} ({exc})"
    try:
        with psycopg.connect(setup.admin_url(pg_url), connect_timeout=3):
            pass
    except psycopg.Error as exc:
        return f"PostgreSQL at {setup.admin_url(pg_url)} ({str(exc).strip()})"
    return ""


def keep_time() -> str:
    """Run the load generator ahead of the servers it loads: it plays the outside world,
    which a busy server does not slow down. Needs root; the note says when it was refused."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, LOADGEN_NICE)
    except OSError as exc:
        return f"the load generator runs at normal priority ({exc.strerror})"
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        scenarios = choose(default_scenarios(args.quick), args.scenarios)
    except ValueError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    shapes = ("embedded", "pg") if args.shape == "both" else (args.shape,)
    results: dict[str, Any] = {
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": report.machine(),
        "versions": {},
        "shapes": {},
        "notes": [note for note in [keep_time()] if note],
    }
    if "pg" in shapes:
        problem = preflight(args.pg_url, args.redis_url)
        if problem:
            print(f"bench: the pg shape needs {problem}", file=sys.stderr)
            return 2
    for shape in shapes:
        shape_results, versions, notes = run_shape(
            shape,
            scenarios,
            floor=not args.no_floor,
            keep=args.keep,
            pg_url=args.pg_url,
            redis_url=args.redis_url,
        )
        results["shapes"][shape] = shape_results
        results["versions"].update(versions)
        results["notes"] += notes
    results["datascale"] = report.load_datascale()
    text, path = report.write(results)
    print(text)
    print(f"\nResults: {path}\nReport: {report.DOC_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
