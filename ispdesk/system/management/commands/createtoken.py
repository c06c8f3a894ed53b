from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ispdesk.accounts.actions import do_create_token
from ispdesk.accounts.models import User


class Command(BaseCommand):
    help = "Create a personal API token for a user and print it (it is shown only once)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user named {options['username']!r}")
        new = do_create_token(None, user, options["name"])
        self.stdout.write(new.secret)
