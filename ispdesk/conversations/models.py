"""Conversations with customers, their messages and history, and the bot flows."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ispdesk.contacts.models import Contact
from ispdesk.messaging.models import GatewayConnection, InboundMessage, OutboundMessage
from ispdesk.operators.models import Area, Operator


class ConversationStatus(models.TextChoices):
    BOT = "bot", _("With the bot")
    PENDING = "pending", _("Waiting in queue")
    # "conversation": Spanish says "Abierta"/"Cerrada" of a conversation, "Abiertos" of tickets.
    OPEN = "open", pgettext_lazy("conversation", "Open")
    CLOSED = "closed", pgettext_lazy("conversation", "Closed")


GENERAL_GROUP = "area.general"
ACTIVE_STATUSES = (ConversationStatus.BOT, ConversationStatus.PENDING, ConversationStatus.OPEN)


class CloseReason(models.TextChoices):
    OPERATOR = "operator", _("Closed by an operator")
    BOT = "bot", _("Closed by the bot")
    AUTO = "auto", _("Closed for inactivity")


class ConversationQuerySet(models.QuerySet["Conversation"]):
    def active(self) -> ConversationQuerySet:
        # IN, not "<> closed": an index on status can serve it, and so can `conv_live_idx`.
        return self.filter(status__in=ACTIVE_STATUSES)


class Conversation(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    connection = models.ForeignKey(
        GatewayConnection, on_delete=models.CASCADE, related_name="conversations"
    )
    # Where replies go: the chat id (or E.164 number) the customer wrote from.
    chat_id = models.CharField(max_length=128)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=ConversationStatus.choices,
        default=ConversationStatus.BOT,
    )
    area = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    assignee = models.ForeignKey(
        Operator, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    # "<contact>:<connection>" while the conversation is not closed, NULL once closed: one
    # live conversation per contact and number on every database (MariaDB has no partial
    # unique indexes; NULLs never collide).
    live_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    # The bot's position in its flow (see `flows.engine.FlowState.as_json`); {} when idle.
    flow_state = models.JSONField(default=dict, blank=True)
    # Waiting in the area queue since (FIFO order); NULL unless pending.
    queued_at = models.DateTimeField(null=True, blank=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=10, choices=CloseReason.choices, blank=True)
    # The end of the closed period the customer was last told about (courtesy once per period).
    courtesy_until = models.DateTimeField(null=True, blank=True)
    # Precomputed for lists: the last message, the customer's unread messages for the
    # assignee, and whether the customer's last message still waits for a human answer.
    last_message_at = models.DateTimeField()
    last_message_preview = models.CharField(max_length=200, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    unread_count = models.PositiveIntegerField(default=0)
    awaiting_human = models.BooleanField(default=False)
    # Bumped on every change so pages can tell a stale event from a fresh one.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()

    objects = ConversationQuerySet.as_manager()

    class Meta:
        ordering = ["-last_message_at", "-id"]
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [
            models.Index(fields=["status", "area", "queued_at", "id"], name="conv_queue_idx"),
            # The lists' orders, so a page reads its rows off an index instead of sorting
            # every chat: newest first (everything), longest waiting first (every queue) and
            # newest first among the live chats (partial: not on MariaDB, which has none).
            models.Index(fields=["-last_message_at", "-id"], name="conv_recent_idx"),
            models.Index(fields=["status", "queued_at", "id"], name="conv_waiting_idx"),
            models.Index(
                fields=["-last_message_at", "-id"],
                condition=models.Q(status__in=ACTIVE_STATUSES),
                name="conv_live_idx",
            ),
            models.Index(fields=["assignee", "status", "last_message_at"], name="conv_mine_idx"),
            models.Index(fields=["status", "last_message_at"], name="conv_status_idx"),
            models.Index(fields=["area", "last_message_at"], name="conv_area_idx"),
            models.Index(fields=["contact", "created_at"], name="conv_contact_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.contact} ({self.status})"

    @property
    def is_closed(self) -> bool:
        return self.status == ConversationStatus.CLOSED

    def groups(self) -> list[str]:
        """Real-time groups entitled to hear about this conversation."""
        groups = [f"conversation.{self.pk}", "role.supervisor", "role.admin"]
        if self.area_id is not None:
            groups.append(f"area.{self.area_id}")
        elif self.status == ConversationStatus.PENDING:
            groups.append(GENERAL_GROUP)  # the general queue is every operator's
        if self.assignee is not None:
            groups.append(f"user.{self.assignee.user_id}")
        return groups


class Sender(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    OPERATOR = "operator", _("Operator")
    BOT = "bot", _("Bot")
    SYSTEM = "system", _("System")


class Message(models.Model):
    """One line of a chat. Customer lines point at the stored inbound message; ours at the
    outbox row that carries them (its status gives the delivery ticks)."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    sender = models.CharField(max_length=10, choices=Sender.choices)
    text = models.TextField(blank=True)
    media_url = models.URLField(max_length=1000, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    inbound = models.OneToOneField(
        InboundMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="chat_line"
    )
    outbound = models.OneToOneField(
        OutboundMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="chat_line"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["conversation", "id"], name="message_conv_idx")]

    def __str__(self) -> str:
        return f"{self.sender}: {self.text[:40]}"


class EventKind(models.TextChoices):
    CREATED = "created", _("Conversation started")
    CONTACT_CREATED = "contact_created", _("New contact")
    FLOW_STARTED = "flow_started", _("Bot flow started")
    HANDOFF = "handoff", _("Handed to a human")
    QUEUED = "queued", _("Waiting in queue")
    COURTESY = "courtesy", _("Courtesy message sent")
    ASSIGNED = "assigned", _("Assigned")
    TRANSFERRED = "transferred", _("Transferred")
    CLOSED = "closed", pgettext_lazy("conversation", "Closed")


class ConversationEvent(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    operator = models.ForeignKey(
        Operator, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    area = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Why, in words (the routing reason, a transfer note, the flow's name).
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["conversation", "created_at"], name="conv_event_idx")]

    def __str__(self) -> str:
        return f"#{self.conversation_id} {self.kind}"


class Flow(models.Model):
    """A bot flow: a tree of nodes stored as one validated document (see `flows.schema`)."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    active = models.BooleanField(_("active"), default=True)
    # Greets new chats. At most one flow is the default (enforced by the save action).
    is_default = models.BooleanField(_("default for new chats"), default=False)
    # Lower-case keywords that start this flow when a customer writes exactly one of them.
    triggers = models.JSONField(_("trigger keywords"), default=list, blank=True)
    # Where the chat goes when the customer fails the menu three times; NULL = the general
    # queue (every operator).
    fallback_area = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    definition = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("bot flow")
        verbose_name_plural = _("bot flows")

    def __str__(self) -> str:
        return self.name
