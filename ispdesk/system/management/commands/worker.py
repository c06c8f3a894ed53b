import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from ispdesk.system.management.commands._server import run_loops_until_signal


class Command(BaseCommand):
    help = (
        "Run the background loops (customer messages to the desk, outbox sender, periodic "
        "jobs) until SIGTERM."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.WORKER_NICE and hasattr(os, "nice"):
            # Webhook answers first when the CPU is short; this work catches up afterwards.
            os.nice(settings.WORKER_NICE)
        self.stdout.write("ispdesk worker started (desk hand-over, outbox sender, periodic jobs)")
        self.stdout.flush()
        run_loops_until_signal()
        self.stdout.write("ispdesk worker stopped")
