import subprocess
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from ispdesk.lib.children import die_with_parent, start_child
from ispdesk.lib.priority import lower_priority
from ispdesk.system.management.commands._server import (
    LOOP_NAMES,
    SENDER,
    run_loops_until_signal,
)


def niceness(vendor: str, loops: Sequence[str] = LOOP_NAMES) -> int:
    """How much a worker process lowers its CPU priority: webhook answers first when the CPU
    is short, this work catches up afterwards, and a process that only sends comes last. Not
    on SQLite: a batch holds the database's one write lock, and a starved holder would make
    the webhooks wait instead."""
    if vendor == "sqlite":
        return 0
    if list(loops) == [SENDER]:
        return max(int(settings.SENDER_NICE), int(settings.WORKER_NICE))
    return int(settings.WORKER_NICE)


def sender_apart(vendor: str, loops: Sequence[str]) -> bool:
    """Whether this worker runs its sender loop in a child process (`WORKER_SENDER_PROCESS`)."""
    if SENDER not in loops or len(loops) == 1:
        return False
    choice = settings.WORKER_SENDER_PROCESS
    # "auto" only where queued replies wake it across processes (`lib.wakeups`): elsewhere a
    # sender apart would find them by polling, up to SENDER_POLL_SECONDS late.
    return choice == "yes" or (choice == "auto" and vendor == "postgresql")


def chosen_loops(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = sorted(set(names) - set(LOOP_NAMES))
    if unknown or not names:
        raise CommandError(
            f"--loops takes a comma-separated list of {', '.join(LOOP_NAMES)}; got {value!r}"
        )
    return [name for name in LOOP_NAMES if name in names]


class Command(BaseCommand):
    help = (
        "Run the background loops (customer messages to the desk, outbox sender, periodic "
        "jobs) until SIGTERM."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--loops",
            default=",".join(LOOP_NAMES),
            help=f"which loops to run, comma-separated (default: {','.join(LOOP_NAMES)})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        loops = chosen_loops(options["loops"])
        die_with_parent()
        children: list[subprocess.Popen[bytes]] = []
        if sender_apart(connection.vendor, loops):
            loops.remove(SENDER)
            # Started before this process lowers its own priority: the child sets its own.
            children.append(start_child(["worker", "--loops", SENDER]))
        lower_priority(niceness(connection.vendor, loops))
        self.stdout.write(f"ispdesk worker started ({', '.join(loops)})")
        self.stdout.flush()
        clean = run_loops_until_signal(loops, children)
        self.stdout.write("ispdesk worker stopped")
        if not clean:
            raise CommandError("a loop or process of this worker ended unexpectedly")
