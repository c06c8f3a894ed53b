"""The `ispdesk` command: Django's management commands plus ispdesk's own.

ispdesk serve | web | worker | demo | createadmin | createtoken USER | check-config
ispdesk migrate, ispdesk shell, ... (any Django command)
"""

from __future__ import annotations

import os
import sys

# Commands spelled with a hyphen on the command line map to Python module names.
ALIASES = {"check-config": "check_config"}


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args:
        args[0] = ALIASES.get(args[0], args[0])
    command = args[0] if args else "help"
    if command == "demo":
        os.environ.setdefault("ISPDESK_DEMO", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ispdesk.settings")

    from ispdesk.lib.env import ConfigError

    try:
        import django

        django.setup()
    except ConfigError as exc:
        if command == "check_config":
            # The same line shape as the command's own checks (check_config.py).
            print(f"{'settings':.<24} FAIL {exc}")
        else:
            print(f"ispdesk: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

    from django.core.management import execute_from_command_line

    execute_from_command_line(["ispdesk", *args])


if __name__ == "__main__":
    main()
