import getpass
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ispdesk.accounts.actions import UserChangeError, do_create_user
from ispdesk.accounts.models import Role


class Command(BaseCommand):
    help = "Create an administrator (password from --password-env or a prompt)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password-env",
            metavar="VAR",
            help="read the password from this environment variable instead of prompting",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["password_env"]:
            password = os.environ.get(options["password_env"], "")
            if not password:
                raise CommandError(f"{options['password_env']} is empty or not set")
        else:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("the passwords differ")
        try:
            user = do_create_user(
                None,
                username=options["username"],
                password=password,
                email=options["email"],
                role=Role.ADMIN,
            )
        except UserChangeError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(self.style.SUCCESS(f"administrator {user.username} created"))
