import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from ispdesk.system.management.commands._server import run_loops_until_signal


def niceness(vendor: str) -> int:
    """How much the worker lowers its CPU priority: webhook answers first when the CPU is
    short, this work catches up afterwards. Not on SQLite: a batch holds the database's one
    write lock, and a starved holder would make the webhooks wait instead."""
    return 0 if vendor == "sqlite" else int(settings.WORKER_NICE)


class Command(BaseCommand):
    help = (
        "Run the background loops (customer messages to the desk, outbox sender, periodic "
        "jobs) until SIGTERM."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        lower_by = niceness(connection.vendor)
        if lower_by and hasattr(os, "nice"):
            os.nice(lower_by)
        self.stdout.write("ispdesk worker started (desk hand-over, outbox sender, periodic jobs)")
        self.stdout.flush()
        run_loops_until_signal()
        self.stdout.write("ispdesk worker stopped")
