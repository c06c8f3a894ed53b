"""WhatsApp connections, the messages we receive, the outbox of what we send, templates."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class GatewayKind(models.TextChoices):
    EVOLUTION = "evolution", "Evolution API"
    WPPCONNECT = "wppconnect", "WPPConnect Server"
    META_CLOUD = "meta_cloud", "WhatsApp Cloud API"
    SIMULATOR = "simulator", _("Simulator")


class ConnectionStatus(models.TextChoices):
    UNKNOWN = "unknown", _("Unknown")
    CONNECTING = "connecting", _("Connecting")
    QR = "qr", _("Waiting for QR scan")
    CONNECTED = "connected", _("Connected")
    DISCONNECTED = "disconnected", _("Disconnected")


class GatewayConnection(models.Model):
    kind = models.CharField(_("kind"), max_length=16, choices=GatewayKind.choices)
    name = models.CharField(_("name"), max_length=80, unique=True)
    # The kind's typed settings (see the adapter's config class). Secrets are stored here and
    # never returned by the API or shown on a page.
    config = models.JSONField(default=dict, blank=True)
    webhook_secret = models.CharField(max_length=64, unique=True, default=new_webhook_secret)
    enabled = models.BooleanField(_("enabled"), default=True)
    # The connection used for operator alerts.
    is_default = models.BooleanField(_("default for operator alerts"), default=False)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ConnectionStatus.choices,
        default=ConnectionStatus.UNKNOWN,
    )
    status_detail = models.CharField(max_length=300, blank=True)
    last_qr = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Messages per second; null = the kind's default; 0 = unlimited.
    rate_per_second = models.FloatField(_("send rate (messages per second)"), null=True, blank=True)
    # The earliest time the next message may go out (shared by every sender worker).
    next_send_at = models.DateTimeField(null=True, blank=True)
    bot_paused = models.BooleanField(default=False)
    display_name = models.CharField(_("display name"), max_length=80, blank=True)
    phone_number = models.CharField(_("number"), max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("WhatsApp connection")
        verbose_name_plural = _("WhatsApp connections")

    def __str__(self) -> str:
        return self.name


class InboundMessage(models.Model):
    """A message a customer (or anyone) sent to one of our numbers, stored once."""

    # No index of its own: the unique (connection, provider_id) and the window's indexes
    # below lead with it. One index fewer to write for every message stored (and again as
    # it is handed over), and one fewer for a planner to pick for a lookup by connection
    # and phone (PostgreSQL without statistics read every message of the connection
    # through it, instead of the one (connection, phone, sent_at) entry it needed).
    connection = models.ForeignKey(
        GatewayConnection,
        on_delete=models.CASCADE,
        related_name="inbound_messages",
        db_index=False,
    )
    provider_id = models.CharField(max_length=128)
    chat_id = models.CharField(max_length=128)
    phone = models.CharField(max_length=20, blank=True, db_index=True)
    lid = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True)
    message_type = models.CharField(max_length=20, default="text")
    media_url = models.URLField(max_length=1000, blank=True)
    quoted_id = models.CharField(max_length=128, blank=True)
    sent_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # When the service desk took it (contact, conversation, bot); null while it waits for the
    # hand-over loop (see `messaging.pending`).
    handed_over_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "provider_id"], name="inbound_connection_provider_id_unique"
            )
        ]
        indexes = [
            # The 24-hour window asks for a customer's last message on a connection.
            models.Index(fields=["connection", "phone", "sent_at"]),
            models.Index(fields=["connection", "chat_id", "sent_at"]),
            # The hand-over loop's "oldest waiting first" (`WAITING_ORDER`). Partial where the
            # database has them (MariaDB ignores the condition and indexes every row): only
            # the waiting rows, read in order whatever the planner's statistics say. With a
            # full index, PostgreSQL planned a storm's batch from statistics taken before it
            # (few rows waiting) and read and sorted the whole backlog for each batch of 50.
            models.Index(
                fields=["handed_over_at", "id"],
                name="inbound_waiting_only",
                condition=models.Q(handed_over_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.phone or self.chat_id}: {self.text[:40]}"


# The hand-over's order, "oldest first", spelled as its index (`inbound_waiting_only`):
# every row it reads has handed_over_at null, so this is the order of ids.
WAITING_ORDER = ("handed_over_at", "id")


class OutboundStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    READ = "read", _("Read")
    FAILED = "failed", _("Failed")


# Receipts move a message forward only; `failed` is terminal and not an ordering step.
STATUS_ORDER = {
    OutboundStatus.QUEUED: 0,
    OutboundStatus.SENDING: 1,
    OutboundStatus.SENT: 2,
    OutboundStatus.DELIVERED: 3,
    OutboundStatus.READ: 4,
}


class Purpose(models.TextChoices):
    OPERATOR_ALERT = "operator_alert", _("Operator alert")
    CUSTOMER = "customer", _("Customer message")
    ECHO = "echo", _("Sent from the phone")
    TEST = "test", _("Test")


class OutboundMessage(models.Model):
    """A message we send: written first, in the same transaction as its cause; the sender
    loop delivers it and receipts update it."""

    connection = models.ForeignKey(
        GatewayConnection, on_delete=models.CASCADE, related_name="outbound_messages"
    )
    to = models.CharField(_("to"), max_length=128)  # E.164 or a chat id as received
    body = models.TextField(blank=True)
    media_url = models.URLField(max_length=1000, blank=True)
    quoted_id = models.CharField(max_length=128, blank=True)
    purpose = models.CharField(max_length=20, choices=Purpose.choices, default=Purpose.CUSTOMER)
    status = models.CharField(
        max_length=12, choices=OutboundStatus.choices, default=OutboundStatus.QUEUED, db_index=True
    )
    # NULL until sent (not ""): NULLs never collide in the unique constraint below.
    provider_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # Free-form references for the UI (ticket id, operator id, template key…).
    context = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # NULLs never collide, so unsent rows are free; a provider id is stored once.
            models.UniqueConstraint(
                fields=["connection", "provider_id"], name="outbound_connection_provider_id_unique"
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.to}: {self.body[:40]} ({self.status})"


class EarlyReceipt(models.Model):
    """A receipt for a provider id no outbound row carries yet.

    Gateways answer a send and fire its first receipt at once; the receipt can reach us
    before the sender has stored the provider id. It waits here and is applied when the id
    is stored (or pruned after a day: a message sent outside ispdesk).
    """

    connection = models.ForeignKey(GatewayConnection, on_delete=models.CASCADE, related_name="+")
    provider_id = models.CharField(max_length=128)
    status = models.CharField(max_length=12, choices=OutboundStatus.choices)
    error = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["connection", "provider_id"])]

    def __str__(self) -> str:
        return f"{self.provider_id} {self.status}"


class MessageTemplate(models.Model):
    key = models.CharField(_("key"), max_length=50)
    language = models.CharField(_("language"), max_length=10, default="es-ar")
    body = models.TextField(_("body"))
    description = models.CharField(_("description"), max_length=200, blank=True)
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key", "language"]
        constraints = [
            models.UniqueConstraint(fields=["key", "language"], name="template_key_language_unique")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.language})"


class HandOverLock(models.Model):
    """One row per lock name, locked for the length of a hand-over batch so batches run one
    after another across threads and processes (a chat's messages stay in order)."""

    name = models.CharField(max_length=40, primary_key=True)

    def __str__(self) -> str:
        return self.name
