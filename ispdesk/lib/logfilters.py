"""Logging filters that keep secrets out of log lines."""

from __future__ import annotations

import logging
import re

# Webhook URLs carry their connection's secret: /hooks/whatsapp/<secret>/ (and /hooks/tickets/).
_HOOK_SECRET = re.compile(r"(/hooks/[a-z_]+/)[^/?\s\"]+")


def redact_hook_secrets(text: str) -> str:
    return _HOOK_SECRET.sub(r"\1***", text)


class RedactHookSecrets(logging.Filter):
    """Rewrites webhook secrets in a record's message and arguments (access logs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_hook_secrets(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_hook_secrets(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True
