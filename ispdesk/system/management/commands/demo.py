from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from ispdesk.demo import demo_password, load_demo_data
from ispdesk.system.management.commands._server import add_bind_arguments, serve


class Command(BaseCommand):
    help = "Migrate, load demo data and serve ispdesk with its embedded defaults."

    def add_arguments(self, parser: Any) -> None:
        add_bind_arguments(parser)
        parser.add_argument("--no-serve", action="store_true", help="load the demo data and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        users = load_demo_data()
        url = f"http://{options['host']}:{options['port']}/"
        self.stdout.write(self.style.SUCCESS(f"ispdesk demo at {url}"))
        self.stdout.write(f"Users (password: {demo_password()}):")
        for user in users:
            self.stdout.write(f"  {user.username:<12} {user.get_role_display()}")
        if options["no_serve"]:
            return
        self.stdout.write("Press Ctrl-C to stop.")
        serve(options["host"], options["port"], with_loops=True)
