"""The issue's scenarios: steady rates, the outage storm and the soak (shortened by --quick)."""

from __future__ import annotations

from dataclasses import dataclass

STEADY = "steady"
STORM = "storm"
SOAK = "soak"
STEADY_RATES = (25, 100, 300, 1000)


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # steady | storm | soak
    duration: float  # seconds of sending (the storm: its ramp)
    rate: float = 0.0  # unique messages per second (steady and soak)
    customers: int = 0  # the storm's customers, each writing 2-3 messages

    @property
    def floor_too(self) -> bool:
        """Whether the floor runs it too: the soak watches memory, not cost per message."""
        return self.kind != SOAK


def default_scenarios(quick: bool = False) -> list[Scenario]:
    steady_seconds = 10.0 if quick else 60.0
    scenarios = [
        Scenario(f"steady-{rate}", STEADY, steady_seconds, rate=rate) for rate in STEADY_RATES
    ]
    if quick:
        scenarios.append(Scenario(STORM, STORM, 20.0, customers=500))
        scenarios.append(Scenario(SOAK, SOAK, 30.0, rate=100))
    else:
        scenarios.append(Scenario(STORM, STORM, 120.0, customers=5000))
        scenarios.append(Scenario(SOAK, SOAK, 600.0, rate=100))
    return scenarios


def choose(scenarios: list[Scenario], names: list[str] | None) -> list[Scenario]:
    """The scenarios named (in the default order), or all; ValueError naming unknown ones."""
    if not names:
        return scenarios
    known = {scenario.name for scenario in scenarios}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}"
        )
    return [scenario for scenario in scenarios if scenario.name in names]
