"""The issue's targets, each judged PASS/FAIL from a run's results (pure).

`results` is what `bench.run` writes: `{"shapes": {shape: {scenario: {"ispdesk": figures,
"floor": figures}}}, "datascale": {...} | None}`. Targets 1-6 are judged on the PostgreSQL
shape ("pg"); the embedded shape is judged on targets 1-3 at 100 messages/s. Targets 7 and
8 come from `bench/results/datascale.json` written by `bench/datascale.py`, in this shape:
`{"targets": [{"number": 7, "figure": "…", "passed": true}, …]}` (a mapping
`{"7": {...}}` and the keys `pass`/`ok`/`summary` are read too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PASSED = "PASS"
FAILED = "FAIL"
NOT_MEASURED = "not measured"
PG = "pg"
EMBEDDED = "embedded"

ACK_P99_MS = 250.0
ACK_P50_MS = 50.0
SCREEN_P95_MS = 1000.0
BOT_REPLY_MS = 1000.0
SUSTAINED_RATE = 1000.0
SUSTAINED_SHARE = 0.95  # of the offered rate, counted as sustained
DRAIN_SECONDS = 60.0
FLOOR_RATIO = 10.0
RSS_LIMIT_MB = 200.0
# RSS growth over the soak's last half above which the trend is "upward".
RSS_TREND_MB = 5.0


@dataclass(frozen=True)
class Verdict:
    number: str
    shape: str
    title: str
    figure: str
    status: str

    def as_dict(self) -> dict[str, str]:
        return {
            "number": self.number,
            "shape": self.shape,
            "title": self.title,
            "figure": self.figure,
            "status": self.status,
        }


def _status(ok: bool) -> str:
    return PASSED if ok else FAILED


def _get(data: Mapping[str, Any] | None, *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping) or key not in data:
            return None
        data = data[key]
    return data


def _desk(shape: Mapping[str, Any] | None, scenario: str) -> Mapping[str, Any] | None:
    value = _get(shape, scenario, "ispdesk")
    return value if isinstance(value, Mapping) else None


def _fmt(value: float | None, unit: str = "ms") -> str:
    return "-" if value is None else f"{value:.0f} {unit}" if value >= 10 else f"{value:.2f} {unit}"


def no_loss(shape_results: Mapping[str, Any], shape: str, scenarios: list[str] | None) -> Verdict:
    title = (
        "zero lost (acknowledged, not stored), zero never acknowledged, zero duplicated, "
        "zero events to an operator not entitled, no event twice at a console"
    )
    names = scenarios if scenarios is not None else sorted(shape_results)
    lost = refused = duplicated = misdelivered = missed = copies = 0
    measured = []
    for name in names:
        figures = _desk(shape_results, name)
        if figures is None:
            continue
        counts = figures.get("correctness", {})
        measured.append(name)
        lost += int(counts.get("lost", 0))
        refused += int(counts.get("never_acknowledged", 0))
        duplicated += int(counts.get("duplicated", 0))
        misdelivered += int(counts.get("misdelivered", 0))
        missed += int(counts.get("missed", 0))
        copies += int(counts.get("extra_copies", 0))
    if not measured:
        return Verdict("1", shape, title, "", NOT_MEASURED)
    figure = (
        f"lost {lost}, never acknowledged {refused}, duplicated {duplicated}, "
        f"misdelivered {misdelivered}, copies {copies} ({', '.join(measured)}); missed {missed}, "
        "not judged (a console that reconnects misses events and reloads from the database)"
    )
    ok = lost == refused == duplicated == misdelivered == copies == 0
    return Verdict("1", shape, title, figure, _status(ok))


def ack_latency(figures: Mapping[str, Any] | None, shape: str, rate: int) -> Verdict:
    title = f"ack p99 ≤ {ACK_P99_MS:.0f} ms and median ≤ {ACK_P50_MS:.0f} ms at {rate}/s"
    ack = _get(figures, "ack")
    if not ack or ack.get("p99") is None:
        return Verdict("2", shape, title, "", NOT_MEASURED)
    unacked = int(_get(figures, "unacknowledged_ids") or 0)
    figure = f"p50 {_fmt(ack['p50'])}, p99 {_fmt(ack['p99'])}, unacknowledged {unacked}"
    ok = ack["p99"] <= ACK_P99_MS and ack["p50"] <= ACK_P50_MS and unacked == 0
    return Verdict("2", shape, title, figure, _status(ok))


def screen_latency(figures: Mapping[str, Any] | None, shape: str, rate: int) -> Verdict:
    title = f"webhook → screen p95 ≤ 1 s and every bot reply queued within 1 s at {rate}/s"
    screen = _get(figures, "screen")
    bot = _get(figures, "bot")
    if not screen or screen.get("p95") is None or not bot:
        return Verdict("3", shape, title, "", NOT_MEASURED)
    slowest = _get(bot, "bot_reply_from_send", "max")
    unmatched = int(_get(figures, "screen_unmatched") or 0)
    missing = int(bot.get("missing", 0))
    figure = (
        f"screen p95 {_fmt(screen['p95'])} ({unmatched} unmatched), slowest bot reply "
        f"{_fmt(slowest)} after the send ({missing} missing)"
    )
    ok = (
        screen["p95"] <= SCREEN_P95_MS
        and unmatched == 0
        and missing == 0
        and slowest is not None
        and slowest <= BOT_REPLY_MS
    )
    return Verdict("3", shape, title, figure, _status(ok))


def sustained(figures: Mapping[str, Any] | None) -> Verdict:
    title = "1,000 messages/s acknowledged for 60 s without loss; the lag drains within 60 s"
    if figures is None or _get(figures, "ack", "count") is None:
        return Verdict("4", PG, title, "", NOT_MEASURED)
    throughput = float(figures.get("throughput") or 0)
    unacked = int(figures.get("unacknowledged_ids") or 0)
    lost = int(_get(figures, "correctness", "lost") or 0)
    drain = figures.get("drain_s")
    duration = float(figures.get("duration") or 0)
    figure = (
        f"{throughput:.0f}/s acknowledged over {duration:.0f} s, unacknowledged {unacked}, "
        f"lost {lost}, drained in {_fmt(drain, 's')}"
    )
    ok = (
        throughput >= SUSTAINED_RATE * SUSTAINED_SHARE
        and unacked == 0
        and lost == 0
        and drain is not None
        and drain <= DRAIN_SECONDS
    )
    if duration < 60:
        figure += " (shortened run: a full run sends for 60 s)"
    return Verdict("4", PG, title, figure, _status(ok))


def cpu_ratio(
    figures: Mapping[str, Any] | None, floor: Mapping[str, Any] | None, rate: int
) -> Verdict:
    title = f"CPU per ingested message within {FLOOR_RATIO:.0f}x the floor (at {rate}/s)"
    ours = _get(figures, "cpu", "per_message_ms")
    base = _get(floor, "cpu", "per_message_ms")
    if not ours or not base:
        return Verdict("5", PG, title, "", NOT_MEASURED)
    ratio = ours / base
    figure = f"{ours:.3f} ms vs floor {base:.3f} ms per message = {ratio:.1f}x"
    return Verdict("5", PG, title, figure, _status(ratio <= FLOOR_RATIO))


def soak_memory(figures: Mapping[str, Any] | None) -> Verdict:
    title = f"web worker RSS < {RSS_LIMIT_MB:.0f} MB at the end of the soak, no upward trend"
    workers = _get(figures, "web_rss")
    if not workers:
        return Verdict("6", PG, title, "", NOT_MEASURED)
    parts, ok = [], True
    for label, item in sorted(workers.items()):
        end, growth = item.get("end_mb"), item.get("growth_last_half_mb")
        parts.append(
            f"{label}: {_fmt(end, 'MB')} at the end, {_fmt(growth, 'MB')} over the last half"
        )
        ok = (
            ok
            and end is not None
            and end < RSS_LIMIT_MB
            and (growth is None or growth <= RSS_TREND_MB)
        )
    return Verdict("6", PG, title, "; ".join(parts), _status(ok))


def _checks_by_number(datascale: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """What `bench/datascale.py` writes: `pass` {"7_list_p95": true, …} and `targets`
    {"7_list_p95_ms": 22.2, …}, grouped per target number into one item each."""
    checks, figures = datascale.get("pass"), datascale.get("targets")
    if not isinstance(checks, Mapping) or not isinstance(figures, Mapping):
        return {}
    items: dict[str, Mapping[str, Any]] = {}
    for number in sorted({str(key).split("_", 1)[0] for key in checks}):
        mine = {key: value for key, value in checks.items() if key.startswith(f"{number}_")}
        shown = [
            f"{key.split('_', 1)[1].replace('_', ' ')} {value:g}"
            for key, value in figures.items()
            if key.startswith(f"{number}_") and isinstance(value, int | float)
        ]
        failed = [key.split("_", 1)[1].replace("_", " ") for key, ok in mine.items() if not ok]
        figure = ", ".join(shown) + (f" (failing: {', '.join(failed)})" if failed else "")
        items[number] = {"passed": all(bool(ok) for ok in mine.values()), "figure": figure}
    return items


def _datascale_items(datascale: Any) -> dict[str, Mapping[str, Any]]:
    items: dict[str, Mapping[str, Any]] = {}
    if not isinstance(datascale, Mapping):
        return items
    grouped = _checks_by_number(datascale)
    if grouped:
        return grouped
    targets = datascale.get("targets", datascale)
    if isinstance(targets, list):
        for item in targets:
            if isinstance(item, Mapping):
                number = item.get("number", item.get("target", item.get("id")))
                items[str(number)] = item
    elif isinstance(targets, Mapping):
        items = {str(key): value for key, value in targets.items() if isinstance(value, Mapping)}
    return items


def datascale(datascale: Any, number: str, title: str) -> Verdict:
    item = _datascale_items(datascale).get(number)
    if item is None:
        return Verdict(number, PG, title, "", NOT_MEASURED)
    passed = item.get("passed", item.get("pass", item.get("ok")))
    figure = str(item.get("figure", item.get("summary", "")))
    status = NOT_MEASURED if passed is None else _status(bool(passed))
    return Verdict(number, PG, title, figure, status)


def evaluate(results: Mapping[str, Any]) -> list[Verdict]:
    shapes = results.get("shapes", {})
    pg = shapes.get(PG) or {}
    embedded = shapes.get(EMBEDDED) or {}
    verdicts = [
        no_loss(pg, PG, None),
        ack_latency(_desk(pg, "steady-300"), PG, 300),
        screen_latency(_desk(pg, "steady-300"), PG, 300),
        sustained(_desk(pg, "steady-1000")),
        cpu_ratio(_desk(pg, "steady-300"), _get(pg, "steady-300", "floor"), 300),
        soak_memory(_desk(pg, "soak")),
        datascale(
            results.get("datascale"),
            "7",
            "lists p95 ≤ 50 ms server time at 100k conversations / 1M messages; chat page ≤ 50 ms",
        ),
        datascale(
            results.get("datascale"),
            "8",
            "assignment ≤ 5 ms per decision at 200 operators / 100k tickets; 1,000 in ≤ 5 s",
        ),
    ]
    if embedded:
        verdicts += [
            no_loss(embedded, EMBEDDED, [name for name in embedded if name == "steady-100"]),
            ack_latency(_desk(embedded, "steady-100"), EMBEDDED, 100),
            screen_latency(_desk(embedded, "steady-100"), EMBEDDED, 100),
        ]
    return verdicts
