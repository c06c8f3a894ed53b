"""The team: areas, operators, their schedules, the business calendar and on-duty days."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ispdesk.lib.calendar import Window


class Area(models.Model):
    name = models.CharField(_("name"), max_length=80, unique=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    active = models.BooleanField(_("active"), default=True)
    # Minutes of silence before an idle chat of this area closes itself; null = the
    # `auto_close_minutes` setting, 0 = never.
    auto_close_minutes = models.PositiveIntegerField(
        _("auto-close after (minutes)"), null=True, blank=True
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("area")
        verbose_name_plural = _("areas")

    def __str__(self) -> str:
        return self.name


class OperatorQuerySet(models.QuerySet["Operator"]):
    def assignable(self) -> OperatorQuerySet:
        """Active operators of active users who may receive new work."""
        return self.filter(
            active=True, user__is_active=True, is_paused=False, assignment_paused=False
        )


class Operator(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator"
    )
    # The Splynx administrator id this operator works as.
    # NULLs never collide in a unique index on any supported database.
    person_id = models.PositiveIntegerField(
        _("Splynx administrator id"), null=True, blank=True, unique=True
    )
    whatsapp = models.CharField(_("WhatsApp number"), max_length=20, blank=True)
    active = models.BooleanField(_("active"), default=True)
    is_paused = models.BooleanField(
        _("paused"), default=False, help_text=_("No new work and no notifications.")
    )
    assignment_paused = models.BooleanField(
        _("assignment paused"), default=False, help_text=_("Keeps current work, gets no new.")
    )
    notifications_enabled = models.BooleanField(_("WhatsApp notifications"), default=True)
    chat_capacity = models.PositiveSmallIntegerField(_("chat capacity"), default=5)
    areas = models.ManyToManyField(Area, blank=True, related_name="operators")
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    # Chats: the last time a conversation was given to this operator (routing tie-break), and
    # the operator's own "away" (keeps current chats, gets no new ones).
    last_chat_assigned_at = models.DateTimeField(null=True, blank=True)
    away = models.BooleanField(_("away"), default=False)

    objects = OperatorQuerySet.as_manager()

    class Meta:
        ordering = ["user__first_name", "user__username"]
        verbose_name = _("operator")
        verbose_name_plural = _("operators")

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.user.get_full_name() or self.user.username


def person_name(first_name: str, last_name: str, username: str) -> str:
    """`Operator.name` from the user's fields, for operators read as values, not models."""
    return f"{first_name} {last_name}".strip() or username


class ScheduleKind(models.TextChoices):
    WORK = "work", _("Work")
    ASSIGNMENT = "assignment", _("Assignment")
    ALERT = "alert", _("Alerts")


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class Schedule(models.Model):
    """A weekly window of one kind; `end <= start` crosses midnight."""

    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, related_name="schedules")
    kind = models.CharField(_("kind"), max_length=16, choices=ScheduleKind.choices)
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start = models.TimeField(_("start"))
    end = models.TimeField(_("end"))

    class Meta:
        ordering = ["operator_id", "kind", "weekday", "start"]
        verbose_name = _("schedule window")
        verbose_name_plural = _("schedule windows")
        indexes = [models.Index(fields=["operator", "kind"])]

    def __str__(self) -> str:
        return f"{self.operator} {self.kind} {self.get_weekday_display()} {self.start}-{self.end}"

    def as_window(self) -> Window:
        return Window(self.weekday, self.start, self.end)


class CalendarException(models.Model):
    """A day that differs from the weekly routine: closed, or open with special hours."""

    day = models.DateField(_("day"))
    closed = models.BooleanField(_("closed all day"), default=True)
    start = models.TimeField(_("opens"), null=True, blank=True)
    end = models.TimeField(_("closes"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["day", "start"]
        verbose_name = _("calendar exception")
        verbose_name_plural = _("calendar exceptions")
        constraints = [
            models.CheckConstraint(
                condition=Q(closed=True) | (Q(start__isnull=False) & Q(end__isnull=False)),
                name="calendar_exception_open_has_hours",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {'closed' if self.closed else f'{self.start}-{self.end}'}"


class OnDuty(models.Model):
    """Who covers a weekend day or holiday."""

    day = models.DateField(_("day"))
    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, related_name="on_duty_days")

    class Meta:
        ordering = ["day", "operator_id"]
        verbose_name = _("on-duty day")
        verbose_name_plural = _("on-duty days")
        constraints = [
            models.UniqueConstraint(fields=["day", "operator"], name="on_duty_day_operator_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.operator}"


# What ticket text may carry as a shift tag: 1 to 18 letters, digits, '-' or '_' in brackets.
SHIFT_TAG_PATTERN = r"^\[[A-Za-z0-9_-]{1,18}\]$"


class ShiftTag(models.Model):
    """A tag found in ticket text (`[TT]`) that sends the ticket to a group of operators."""

    tag = models.CharField(_("tag"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=80)
    operators = models.ManyToManyField(Operator, blank=True, related_name="shift_tags")
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["tag"]
        verbose_name = _("shift tag")
        verbose_name_plural = _("shift tags")

    def __str__(self) -> str:
        return f"{self.tag} {self.name}"


class AreaHours(models.Model):
    """A weekly working-hours window of an area; `end <= start` crosses midnight."""

    area = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start = models.TimeField(_("start"))
    end = models.TimeField(_("end"))
    # Sent (once per closed period) to customers who write while the area is closed and this
    # is the next window to open; blank = the `after_hours` message template.
    courtesy_message = models.TextField(_("courtesy message"), blank=True, max_length=1000)

    class Meta:
        ordering = ["area_id", "weekday", "start"]
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")

    def __str__(self) -> str:
        return f"{self.area} {self.get_weekday_display()} {self.start}-{self.end}"

    def as_window(self) -> Window:
        return Window(self.weekday, self.start, self.end)


class ConsoleSession(models.Model):
    """One open agent console (a websocket) of an operator; presence is derived from these.

    An operator is online while any session was seen within the presence timeout, so several
    tabs, and a browser that vanished without closing its socket, both come out right.
    """

    operator = models.ForeignKey(
        Operator, on_delete=models.CASCADE, related_name="console_sessions"
    )
    channel_name = models.CharField(max_length=200, unique=True)
    connected_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return f"{self.operator} {self.last_seen_at}"


class TeamStamp(models.Model):
    """One row whose value the database renews whenever schedules, calendar exceptions,
    on-duty days or shift tags change (see `operators.stamp`): what the assignment engine
    keeps them under."""

    value = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("team stamp")
        verbose_name_plural = _("team stamps")

    def __str__(self) -> str:
        return self.value
