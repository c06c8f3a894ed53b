"""Logging filters that keep secrets out of log lines."""

from __future__ import annotations

import logging
import re

# Webhook URLs carry their connection's secret: /hooks/whatsapp/<secret>/ (and /hooks/tickets/).
_HOOK_SECRET = re.compile(r"(/hooks/[a-z_]+/)[^/?\s\"]+")
WHATSAPP_HOOKS = "/hooks/whatsapp/"


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


class SkipAcceptedWebhooks(logging.Filter):
    """Drops uvicorn's access-log lines of webhook POSTs that were answered below 400.

    In an outage storm a gateway posts hundreds of times a second, and a line for each
    accepted delivery buried everything else (and cost the web process a tenth of its time
    per delivery, issue 7). Refused or failed deliveries keep their line, and the webhook
    logs each refusal itself (`messaging.webhooks`). LOG_WEBHOOK_ACCESS=yes keeps them all.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn's access record: (client, method, path with query, http version, status).
        args = record.args
        if not isinstance(args, tuple) or len(args) != 5:
            return True
        _client, method, path, _version, status = args
        accepted = isinstance(status, int) and status < 400
        return not (accepted and method == "POST" and str(path).startswith(WHATSAPP_HOOKS))
