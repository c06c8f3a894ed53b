from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ispdesk.system.management.commands._server import (
    QuietStop,
    add_bind_arguments,
    uvicorn_options,
)


class Command(BaseCommand):
    help = "Serve the web application only (ASGI), with N worker processes."

    def add_arguments(self, parser: Any) -> None:
        add_bind_arguments(parser)
        parser.add_argument("--workers", type=int, default=1)

    def handle(self, *args: Any, **options: Any) -> None:
        import uvicorn

        if options["workers"] < 1:
            raise CommandError("--workers must be at least 1")
        self.stdout.write(f"ispdesk web at http://{options['host']}:{options['port']}/")
        server_options = uvicorn_options(options["host"], options["port"])
        if options["workers"] > 1:
            # uvicorn's supervisor binds the socket, forwards signals and exits cleanly.
            uvicorn.run("ispdesk.asgi:application", workers=options["workers"], **server_options)
            return
        server = uvicorn.Server(uvicorn.Config("ispdesk.asgi:application", **server_options))
        QuietStop(server)
        server.run()
