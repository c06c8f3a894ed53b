from typing import Any

from django.core.management.base import BaseCommand

from ispdesk.system.checks import run_checks


class Command(BaseCommand):
    help = "Validate every setting and try every configured connection."

    def handle(self, *args: Any, **options: Any) -> None:
        failed = False
        for result in run_checks():
            status = "OK" if result.ok else f"FAIL {result.detail}"
            if result.ok and result.detail:
                status = f"OK ({result.detail})"
            self.stdout.write(f"{result.name:.<24} {status}")
            failed = failed or not result.ok
        if failed:
            raise SystemExit(1)
