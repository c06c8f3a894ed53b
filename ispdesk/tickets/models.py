"""Tickets and their history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ispdesk.operators.models import Area, Operator


class Source(models.TextChoices):
    SPLYNX = "splynx", "Splynx"
    GESTIONREAL = "gestionreal", "Gestión Real"
    WEBHOOK = "webhook", _("Webhook")
    MANUAL = "manual", _("Manual")
    CSV = "csv", "CSV"


class Status(models.TextChoices):
    NEW = "new", _("New")
    ASSIGNED = "assigned", _("Assigned")
    IN_PROGRESS = "in_progress", _("In progress")
    WAITING = "waiting", _("Waiting")
    CLOSED = "closed", _("Closed")


OPEN_STATUSES = (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING)


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class TicketQuerySet(models.QuerySet["Ticket"]):
    def open(self) -> TicketQuerySet:
        return self.exclude(status=Status.CLOSED)

    def unassigned(self) -> TicketQuerySet:
        """Open tickets waiting for an operator: nobody has them here and no Splynx
        administrator holds them (see `Ticket.splynx_held`)."""
        return self.open().filter(assignee__isnull=True, splynx_held=False)


class Ticket(models.Model):
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    external_id = models.CharField(_("external id"), max_length=64)
    splynx_ticket_id = models.PositiveIntegerField(_("Splynx ticket"), null=True, blank=True)
    customer_splynx_id = models.PositiveIntegerField(_("Splynx customer"), null=True, blank=True)
    customer_name = models.CharField(_("customer"), max_length=200, blank=True)
    # The customer as the source knows them (Gestión Real's client id) and their WhatsApp
    # number: what the pipeline matches a Splynx customer by.
    customer_external_id = models.CharField(
        _("customer number at the source"), max_length=32, blank=True
    )
    customer_phone = models.CharField(_("customer phone"), max_length=32, blank=True)
    # The Splynx customer's login and status, as last read (shown on the ticket page).
    customer_login = models.CharField(_("customer login"), max_length=64, blank=True)
    customer_status = models.CharField(_("customer status"), max_length=16, blank=True)
    # The case's state at its source (Gestión Real's "Estado") and when the source closed it.
    source_state = models.CharField(_("state at the source"), max_length=64, blank=True)
    source_closed_at = models.DateTimeField(_("closed at the source"), null=True, blank=True)
    # Splynx sync: set just before a create is sent, so a create whose answer was lost is
    # looked up before it is sent again; the administrator Splynx last had as `assign_to`
    # (a different one there means someone reassigned it by hand inside Splynx); the last
    # successful sync; the last error, in words, for the ticket page.
    splynx_create_started_at = models.DateTimeField(null=True, blank=True)
    splynx_assigned_to = models.PositiveIntegerField(null=True, blank=True)
    splynx_synced_at = models.DateTimeField(null=True, blank=True)
    splynx_error = models.CharField(max_length=500, blank=True)
    # Which step of the sync `splynx_error` is about ("create", "message", "assign",
    # "state"; blank for errors stored before steps were recorded): a step that works again
    # clears only its own error.
    splynx_error_step = models.CharField(max_length=16, blank=True)
    # A person inside Splynx gave the ticket to an administrator who is no operator here: a
    # deliberate choice that the engine and the pushes to Splynx must not undo. Cleared by a
    # person's assignment here, or when Splynx gives it to a linked administrator or nobody.
    splynx_held = models.BooleanField(
        _("held in Splynx"),
        default=False,
        help_text=_(
            "Assigned by hand in Splynx to an administrator without an operator here: "
            "ispdesk's assignment engine leaves it alone."
        ),
    )
    # That administrator's name as Splynx gave it (blank when unknown), for the ticket page.
    splynx_assigned_name = models.CharField(max_length=200, blank=True)
    subject = models.CharField(_("subject"), max_length=250)
    body = models.TextField(_("description"), blank=True)
    priority = models.CharField(
        _("priority"), max_length=8, choices=Priority.choices, default=Priority.MEDIUM
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.NEW, db_index=True
    )
    shift_tag = models.CharField(_("shift tag"), max_length=20, blank=True)
    area = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    assignee = models.ForeignKey(
        Operator, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    created_at = models.DateTimeField(_("created"), db_index=True)
    assigned_at = models.DateTimeField(_("assigned"), null=True, blank=True)
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # The last reopening here. Splynx may still have the ticket closed while this is newer
    # than `splynx_synced_at` (see `splynx_reopen_pending`).
    reopened_at = models.DateTimeField(_("reopened"), null=True, blank=True)
    alerts_sent = models.PositiveIntegerField(_("alerts sent"), default=0)

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="ticket_source_external_id_unique"
            ),
            # One local ticket per Splynx ticket (unlinked tickets are NULL, any number).
            models.UniqueConstraint(
                fields=["splynx_ticket_id"], name="ticket_splynx_ticket_id_unique"
            ),
            # Held by a Splynx administrator means nobody here has it.
            models.CheckConstraint(
                condition=models.Q(splynx_held=False) | models.Q(assignee__isnull=True),
                name="ticket_held_in_splynx_unassigned",
            ),
        ]
        indexes = [
            models.Index(fields=["assignee", "status"]),
            # Each operator's load, read by every assignment decision: the open tickets are
            # a small part of the history, so counting them must not read the closed ones.
            # (MySQL and MariaDB have no partial indexes: Django skips it there.)
            models.Index(
                fields=["assignee"],
                condition=~models.Q(status=Status.CLOSED),
                name="ticket_open_by_assignee",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.status != Status.CLOSED

    @property
    def splynx_reopen_pending(self) -> bool:
        """Reopened here after the last sync with Splynx, which may still have it closed:
        the reopening is still to be sent, and a close read from Splynx is older news."""
        return (
            self.is_open
            and self.splynx_ticket_id is not None
            and self.reopened_at is not None
            and (self.splynx_synced_at is None or self.splynx_synced_at < self.reopened_at)
        )

    @property
    def splynx_holder(self) -> str:
        """The Splynx administrator holding the ticket, as the page names them: their name,
        or "#id" when Splynx did not say it ("" when the ticket is not held)."""
        if not self.splynx_held:
            return ""
        return self.splynx_assigned_name or f"#{self.splynx_assigned_to or 0}"


class EventKind(models.TextChoices):
    CREATED = "created", _("Created")
    ASSIGNED = "assigned", _("Assigned")
    REASSIGNED = "reassigned", _("Reassigned")
    UNASSIGNED = "unassigned", _("Unassigned")
    STATUS_CHANGED = "status_changed", _("Status changed")
    COMMENTED = "commented", _("Commented")
    ALERTED = "alerted", _("Alerted")
    CLOSED = "closed", _("Closed")
    REOPENED = "reopened", _("Reopened")
    SYNCED = "synced", _("Synced")


class OpenTicketCount(models.Model):
    """How many open tickets an operator has: kept by triggers on the tickets table (see
    `tickets.loads`), read by every assignment decision. An operator without a row has none.
    No foreign key: the triggers may count for an operator whose row a deferred constraint
    will only check at commit, and a deleted operator's row (zero) harms nobody."""

    operator_id = models.BigIntegerField(primary_key=True)
    open_tickets = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("open tickets of an operator")
        verbose_name_plural = _("open tickets of the operators")

    def __str__(self) -> str:
        return f"{self.operator_id}: {self.open_tickets}"


class TicketEvent(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    created_at = models.DateTimeField(db_index=True)
    # None means ispdesk itself (the assignment engine, a job, a sync).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    operator = models.ForeignKey(
        Operator, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    previous_operator = models.ForeignKey(
        Operator, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    # The engine's reason, a comment's text, or what a sync changed.
    text = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind}"
