"""The gateways ispdesk sends its replies to during a run: the test suite's fake Evolution API
and fake Graph API, served in a process of their own (`python -m bench.gateways --out
gateways.json`), so the outbox sender has somewhere real to deliver and receipts can name
real outbound ids.

They forget what they recorded (a soak would otherwise fill memory) and answer
`GET /_bench/accepted` with how many sends they have accepted so far. The connection
configs for `bench.setup` are written to --out once both listen; SIGTERM stops them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ispdesk.lib.stopsignals import StopSignals
from ispdesk.testing.fakes.evolution import FakeEvolution
from ispdesk.testing.fakes.graph import FakeGraph
from ispdesk.testing.fakes.server import Answer, RecordedRequest, json_answer, serving

COUNT_PATH = "/_bench/accepted"
KEEP_RECORDS = 100


class _Forgetful:
    """Counts accepted sends and keeps only the last few records."""

    sends = 0

    def handle(self, request: RecordedRequest) -> Answer:
        if request.path == COUNT_PATH:
            return json_answer(200, {"accepted": self.sends})
        answer: Answer = super().handle(request)  # type: ignore[misc]
        with self._changed:  # type: ignore[attr-defined]
            del self.requests[:-KEEP_RECORDS]  # type: ignore[attr-defined]
        return answer

    def accept(self, body: dict[str, Any], message_id: str) -> None:
        super().accept(body, message_id)  # type: ignore[misc]
        with self._changed:  # type: ignore[attr-defined]
            self.sends += 1
            del self.accepted[:-KEEP_RECORDS]  # type: ignore[attr-defined]


class BenchEvolution(_Forgetful, FakeEvolution):
    pass


class BenchGraph(_Forgetful, FakeGraph):
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the fake gateways for a benchmark run.")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    with (
        StopSignals().installed() as stop,
        serving(BenchEvolution(), keep_alive=True) as evolution,
        serving(BenchGraph(), keep_alive=True) as graph,
    ):
        config = {
            "evolution": evolution.config(),
            "cloud": graph.config(),
            "urls": {"evolution": evolution.url, "cloud": graph.url},
        }
        args.out.write_text(json.dumps(config))
        while not stop.wait(60):
            pass


if __name__ == "__main__":
    main()
