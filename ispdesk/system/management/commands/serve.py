from typing import Any

from django.core.management.base import BaseCommand

from ispdesk.system.management.commands._server import add_bind_arguments, serve


class Command(BaseCommand):
    help = "Serve ispdesk (web and background loops in one process)."

    def add_arguments(self, parser: Any) -> None:
        add_bind_arguments(parser)
        parser.add_argument(
            "--no-worker", action="store_true", help="do not run the background loops here"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"ispdesk at http://{options['host']}:{options['port']}/")
        serve(options["host"], options["port"], with_loops=not options["no_worker"])
