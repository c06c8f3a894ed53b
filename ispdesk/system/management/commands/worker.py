from typing import Any

from django.core.management.base import BaseCommand

from ispdesk.system.management.commands._server import run_loops_until_signal


class Command(BaseCommand):
    help = (
        "Run the background loops (customer messages to the desk, outbox sender, periodic "
        "jobs) until SIGTERM."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write("ispdesk worker started (desk hand-over, outbox sender, periodic jobs)")
        self.stdout.flush()
        run_loops_until_signal()
        self.stdout.write("ispdesk worker stopped")
