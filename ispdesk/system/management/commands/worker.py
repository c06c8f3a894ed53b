from typing import Any

from django.core.management.base import BaseCommand

from ispdesk.jobs.runner import SchedulerLoop
from ispdesk.system.management.commands._server import wait_for_signal


class Command(BaseCommand):
    help = "Run the background loops (periodic jobs) until SIGTERM."

    def handle(self, *args: Any, **options: Any) -> None:
        loop = SchedulerLoop()
        self.stdout.write(f"ispdesk worker {loop.worker} started")
        wait_for_signal(loop)
