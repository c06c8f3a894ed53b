"""The report: a table per shape and scenario, every target with PASS/FAIL, the machine.

Printed to the terminal and written to `docs/benchmarks.md`; the raw figures go to
`bench/results/` (gitignored) as JSON.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping, Sequence
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.scenarios import SOAK
from bench.targets import Verdict, evaluate

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
DATASCALE_FILE = RESULTS_DIR / "datascale.json"
DOC_FILE = ROOT / "docs" / "benchmarks.md"

# Load generator lateness (p99) above which its figures come with a warning.
LATE_LOADGEN_MS = 100

COLUMNS = (
    "scenario",
    "server",
    "msgs",
    "ack p50/p95/p99/max ms",
    "screen p50/p95/p99 ms",
    "queue p95 ms",
    "bot reply p95/max ms (db; send)",
    "acked/s",
    "CPU ms/msg (xfloor)",
    "peak RSS MB",
    "lost/dup/misdelivered/missed/copies",
    "never acked (stored)",
)


METHOD = (
    "How it measures:",
    "",
    "- Load: an open-loop timetable (asyncio and a lean HTTP/1.1 keep-alive client, "
    "`bench.httpclient`). Customers greet, pick a menu option "
    "(the bot hands the chat to Soporte, Ventas or Administración) and describe the problem. "
    "Evolution posts one `messages.upsert` per message; the Cloud API posts signed batches of "
    "2-5. 10% of message deliveries are byte-identical re-sends; status receipts for outbound "
    "ids arrive in shuffled order, some before the id exists. Latency counts from each POST's "
    "*intended* time, so a stalled server cannot hide its stalls.",
    "- Consoles: 12 operators (two of them in two areas) and a supervisor on websockets, logged "
    "in with sessions, joining their area groups as the console page does, reconnecting as it "
    "does.",
    "- Screen: webhook -> the `message:new` naming the message's chat line at an entitled "
    "console. Events carry conversation and chat-line ids, not the provider's message id or "
    "the phone, so the line is looked up in the database. Queue: the message that made the "
    "bot hand over -> `conversation:incoming` at an operator of that area. Bot reply: first "
    "message stored -> outbox row created (db), and intended send -> outbox row (send).",
    "- Correctness: lost = acknowledged (2xx) but not in the database; never acknowledged = "
    "answered 503 or timed out (a gateway would retry; this generator does not); "
    "misdelivered = events about a conversation at an operator not entitled to it; missed = "
    "entitled consoles that did not get an event others got; copies = the same event more than "
    "once at one console (each must arrive once, also at a console in several of its groups).",
    "- Floor: `bench/floor.py`, a raw ASGI app on uvicorn (same worker count) that checks the "
    "same secret or signature, inserts one row per message or receipt (`ON CONFLICT DO "
    "NOTHING`) in its own table of the same database, publishes one event (Redis in the pg "
    "shape) and answers 200. It runs the same timetable right after ispdesk, started only "
    "for its run.",
    "- Cost: CPU seconds (user + system) of every server process from the first send until "
    "events stop, divided by the unique messages; RSS sampled every 0.5 s. The load "
    "generator and the consoles run at a higher priority than the servers: they play the "
    "outside world.",
)


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu": cpu or "unknown",
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "django": _version("django"),
        "channels": _version("channels"),
        "uvicorn": _version("uvicorn"),
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _n(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and digits:
        return f"{value:.{digits}f}"
    if isinstance(value, float):
        return f"{value:.0f}" if value >= 10 else f"{value:.1f}"
    return str(value)


def _quad(summary: Mapping[str, Any] | None, keys: Sequence[str]) -> str:
    if not summary or not summary.get("count"):
        return "-"
    return "/".join(_n(summary.get(key)) for key in keys)


def row(
    scenario: str, server: str, figures: Mapping[str, Any], floor_cpu: float | None
) -> list[str]:
    counts = figures.get("correctness", {})
    cpu = figures.get("cpu", {}).get("per_message_ms")
    ratio = f" (x{cpu / floor_cpu:.1f})" if cpu and floor_cpu and server == "ispdesk" else ""
    rss = figures.get("peak_rss_mb", {})
    peak = max(rss.values()) if rss else None
    bot = figures.get("bot") or {}
    bot_cell = "-"
    if bot:
        bot_cell = (
            f"{_quad(bot.get('bot_reply_db'), ('p95', 'max'))}; "
            f"{_quad(bot.get('bot_reply_from_send'), ('p95', 'max'))}"
        )
    return [
        scenario,
        server,
        _n(counts.get("unique_sent")),
        _quad(figures.get("ack"), ("p50", "p95", "p99", "max")),
        _quad(figures.get("screen"), ("p50", "p95", "p99")),
        _quad(figures.get("queue"), ("p95",)),
        bot_cell,
        _n(figures.get("throughput")),
        (f"{cpu:.3f}" if cpu else "-") + ratio,
        _n(peak),
        "/".join(
            _n(counts.get(key, "-"))
            for key in ("lost", "duplicated", "misdelivered", "missed", "extra_copies")
        ),
        f"{_n(counts.get('never_acknowledged'))} ({_n(counts.get('stored_unacknowledged'))})",
    ]


def table(shape_results: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for scenario, servers in shape_results.items():
        floor_cpu = (servers.get("floor") or {}).get("cpu", {}).get("per_message_ms")
        for server in ("ispdesk", "floor"):
            if servers.get(server):
                rows.append(row(scenario, server, servers[server], floor_cpu))
    return rows


TIMELINE_COLUMNS = ("from s", "acks", "ack p50/p99 ms", "screen p50/p95/max ms")


def timeline_table(figures: Mapping[str, Any]) -> list[list[str]]:
    """A long run's latencies per window of its timetable (the soak's per minute)."""
    acks = {row["from"]: row for row in figures.get("ack_timeline", [])}
    screens = {row["from"]: row for row in figures.get("screen_timeline", [])}
    return [
        [
            _n(round(start)),
            _n((acks.get(start) or {}).get("count")),
            _quad(acks.get(start), ("p50", "p99")),
            _quad(screens.get(start), ("p50", "p95", "max")),
        ]
        for start in sorted(acks.keys() | screens.keys())
    ]


def render_text(rows: Sequence[Sequence[str]], columns: Sequence[str] = COLUMNS) -> str:
    widths = [max(len(str(line[i])) for line in [columns, *rows]) for i in range(len(columns))]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in [columns, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def render_markdown(rows: Sequence[Sequence[str]], columns: Sequence[str] = COLUMNS) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(cell) for cell in line) + " |" for line in rows]
    return "\n".join(lines)


def verdict_lines(verdicts: Sequence[Verdict]) -> list[str]:
    return [
        f"{v.status:<12} target {v.number} [{v.shape}] {v.title}: {v.figure or '(no figure)'}"
        for v in verdicts
    ]


def notes_lines(results: Mapping[str, Any]) -> list[str]:
    lines = list(results.get("notes", []))
    for shape, scenarios in results.get("shapes", {}).items():
        for scenario, servers in scenarios.items():
            figures = servers.get("ispdesk") or {}
            lag = (figures.get("loadgen_lag") or {}).get("p99")
            if lag is not None and lag > LATE_LOADGEN_MS:
                lines.append(
                    f"{shape}/{scenario}: the load generator itself ran late (p99 {lag:.0f} ms): "
                    "latencies include that lateness, and the server saw less than the intended "
                    "rate"
                )
            for problem in figures.get("problems", []):
                lines.append(f"{shape}/{scenario}: {problem}")
            note = _replies_note(figures.get("replies_sent"))
            if note:
                lines.append(f"{shape}/{scenario}: {note}")
    return lines


def _replies_note(replies: Mapping[str, Any] | None) -> str:
    """A line when the sender had not caught up with the bot's replies by the check (it
    runs at the lowest priority: the screens and the queued replies come first)."""
    if not replies or not replies.get("unsent"):
        return ""
    return (
        f"{replies['unsent']} of {replies['count']} bot replies not yet sent to the gateways "
        f"{replies['checked_after_s']:.0f} s after the last send (queued in time; the sender "
        "sends at the lowest priority and catches up after the screens)"
    )


def load_datascale(path: Path = DATASCALE_FILE) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def render(results: Mapping[str, Any]) -> tuple[str, str]:
    """(terminal text, markdown document) of a run's results."""
    verdicts = evaluate(results)
    info = results.get("machine", {})
    kind = "quick" if results.get("quick") else "full"
    versions = results.get("versions", {})
    header = (
        f"Run {results.get('started', '')} ({kind}) on "
        f"{info.get('cpu')} ({info.get('cores')} cores, {info.get('memory_gb')} GB RAM); "
        f"Python {info.get('python')}, Django {info.get('django')}, "
        + ", ".join(f"{name} {value}" for name, value in versions.items())
    )
    text = [header, ""]
    markdown = [
        "# Benchmarks (issue 7: the outage storm)",
        "",
        "Written by `make bench` (`python -m bench.run`); the raw figures are in "
        "`bench/results/` (not committed).",
        "",
        *METHOD,
        "",
        f"- Date: {results.get('started', '')} ({kind} run)",
        f"- Machine: {info.get('cpu')}, {info.get('cores')} cores, {info.get('memory_gb')} GB RAM, "
        f"{info.get('os')}",
        f"- Versions: Python {info.get('python')}, Django {info.get('django')}, Channels "
        f"{info.get('channels')}, uvicorn {info.get('uvicorn')}, "
        + ", ".join(f"{name} {value}" for name, value in versions.items()),
        "",
    ]
    for shape, scenarios in results.get("shapes", {}).items():
        rows = table(scenarios)
        text += [f"== {shape} ==", render_text(rows), ""]
        markdown += [f"## {shape}", "", render_markdown(rows), ""]
        over_time = timeline_table((scenarios.get(SOAK) or {}).get("ispdesk") or {})
        if over_time:
            title = (
                f"{shape}: the soak per tenth of its length, a minute at full length "
                "(by each message's intended time)"
            )
            text += [title, render_text(over_time, TIMELINE_COLUMNS), ""]
            markdown += [f"### {title}", "", render_markdown(over_time, TIMELINE_COLUMNS), ""]
    text += ["Targets:", *verdict_lines(verdicts)]
    markdown += [
        "## Targets",
        "",
        "| target | shape | what | figure | result |",
        "|---|---|---|---|---|",
    ]
    markdown += [
        f"| {v.number} | {v.shape} | {v.title} | {v.figure or '-'} | {v.status} |" for v in verdicts
    ]
    notes = notes_lines(results)
    if notes:
        text += ["", "Notes:", *notes]
        markdown += ["", "## Notes", "", *[f"- {line}" for line in notes]]
    return "\n".join(text), "\n".join(markdown) + "\n"


def write(results: dict[str, Any]) -> tuple[str, Path]:
    """Evaluate, write the JSON and docs/benchmarks.md; return the terminal text and the
    JSON's path."""
    results["verdicts"] = [verdict.as_dict() for verdict in evaluate(results)]
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = RESULTS_DIR / f"run-{stamp}.json"
    path.write_text(json.dumps(results, indent=1, default=str))
    (RESULTS_DIR / "latest.json").write_text(json.dumps(results, indent=1, default=str))
    text, markdown = render(results)
    DOC_FILE.parent.mkdir(parents=True, exist_ok=True)
    DOC_FILE.write_text(markdown)
    return text, path


def main() -> None:
    """Re-render the report of a results file (default: the latest run) without running."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("results", nargs="?", type=Path, default=RESULTS_DIR / "latest.json")
    args = parser.parse_args()
    results = json.loads(args.results.read_text())
    text, markdown = render(results)
    DOC_FILE.write_text(markdown)
    print(text)


if __name__ == "__main__":
    main()
