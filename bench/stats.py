"""Percentiles and trends over plain lists of floats (no numpy: the harness stays light)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The `fraction` (0..1) percentile by the nearest-rank method; None for no values.

    Nearest rank never invents a value between two samples, so p99 of 100 samples is the
    99th smallest and p100 is the maximum.
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1, not {fraction}")
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Summary:
    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "count": self.count,
            "p50": self.p50,
            "p95": self.p95,
            "p99": self.p99,
            "max": self.max,
        }


def summarise(values: Sequence[float]) -> Summary:
    return Summary(
        count=len(values),
        p50=percentile(values, 0.50),
        p95=percentile(values, 0.95),
        p99=percentile(values, 0.99),
        max=max(values) if values else None,
    )


def slope(points: Sequence[tuple[float, float]]) -> float | None:
    """The least-squares slope of y over x; None with fewer than two distinct x."""
    if len(points) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def growth_over_last_half(points: Sequence[tuple[float, float]]) -> float | None:
    """How much y grows over the second half of the x range, by the fitted line's slope
    (robust to one noisy sample, unlike last minus first)."""
    if not points:
        return None
    start, end = points[0][0], points[-1][0]
    middle = start + (end - start) / 2
    fitted = slope([point for point in points if point[0] >= middle])
    return None if fitted is None else fitted * (end - middle)


def timeline(
    points: Sequence[tuple[float, float]], window: float, end: float | None = None
) -> list[dict[str, float | int | None]]:
    """Per `window` of x (from 0): how many points and their p50, p95 and max y; a window
    without points is left out. Points at `end` (the run's last moment) count in the last
    window, not in one of their own. Shows when in a long run a latency grew."""
    if window <= 0:
        raise ValueError(f"window must be positive, not {window}")
    last = None if end is None else max(0, math.ceil(end / window) - 1)
    buckets: dict[int, list[float]] = {}
    for x, y in points:
        index = math.floor(x / window)
        buckets.setdefault(index if last is None else min(index, last), []).append(y)
    return [
        {"from": index * window, **summarise(buckets[index]).as_dict()} for index in sorted(buckets)
    ]
