from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import Customer


class Segment(models.Model):
    """An audience: customers matching a rule tree (dynamic), or a fixed list (static, from a
    CSV of identifiers). The rule language is in docs/campaigns.md; ``campaigns.segments``
    compiles it to one SQL query."""

    class Kind(models.TextChoices):
        DYNAMIC = "dynamic", _("Rules")
        STATIC = "static", _("Fixed list")

    name = models.CharField(_("name"), max_length=150, unique=True)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.DYNAMIC)
    rules = models.JSONField(
        _("rules"),
        default=dict,
        blank=True,
        help_text=_('A rule tree: {"all": [...]} or {"any": [...]} of rules and groups.'),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]
        permissions = [("export_segment", _("Can export a segment and download its audience"))]

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    """A customer on a static segment's list."""

    # No single-column indexes of their own: the unique (segment, customer) and the customer
    # index below serve both look-ups.
    segment = models.ForeignKey(
        Segment,
        verbose_name=_("segment"),
        on_delete=models.CASCADE,
        related_name="members",
        db_index=False,
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="segment_memberships",
        db_index=False,
    )
    added_at = models.DateTimeField(_("added at"), default=timezone.now)

    class Meta:
        verbose_name = _("segment member")
        verbose_name_plural = _("segment members")
        constraints = [
            models.UniqueConstraint(fields=["segment", "customer"], name="campaigns_one_membership")
        ]
        indexes = [models.Index(fields=["customer"], name="campaigns_member_customer")]

    def __str__(self) -> str:
        return f"{self.segment_id}/{self.customer_id}"


class Campaign(models.Model):
    """One message to a segment, written once per channel and language (templates of the
    channels app under ``template_key``), sent on each customer's best consented channel.
    Status moves only as ``campaigns.lifecycle`` allows, and every move is audited."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        PAUSED = "paused", _("Paused")
        SENT = "sent", _("Sent")
        CANCELLED = "cancelled", _("Cancelled")

    class Schedule(models.TextChoices):
        NOW = "now", _("Send now")
        AT = "at", _("At a date and time")
        RECURRING = "recurring", _("Recurring")

    name = models.CharField(_("name"), max_length=150)
    segment = models.ForeignKey(
        Segment, verbose_name=_("segment"), on_delete=models.PROTECT, related_name="campaigns"
    )
    channels = models.JSONField(
        _("channels"),
        default=list,
        help_text=_("Channel kinds in order of preference, e.g. email, then sms."),
    )
    template_key = models.CharField(
        _("content"),
        max_length=100,
        help_text=_("The key of the message templates: one per channel and language."),
    )
    holdout_percent = models.PositiveSmallIntegerField(
        _("hold-out %"),
        default=0,
        help_text=_("This share of the audience gets nothing, to measure the true uplift."),
    )
    goal_event = models.CharField(_("goal event"), max_length=200, default="Order Completed")
    goal_window = models.DurationField(_("goal window"), default=timedelta(days=5))
    throttle_per_minute = models.PositiveIntegerField(
        _("messages per minute"), default=0, help_text=_("0: as fast as the channels allow.")
    )
    window_start = models.TimeField(_("send window starts"), null=True, blank=True)
    window_end = models.TimeField(_("send window ends"), null=True, blank=True)
    schedule = models.CharField(
        _("schedule"), max_length=20, choices=Schedule.choices, default=Schedule.NOW
    )
    send_at = models.DateTimeField(_("send at"), null=True, blank=True)
    crontab = models.CharField(
        _("recurrence"),
        max_length=100,
        blank=True,
        help_text=_('Minute hour day month weekday, e.g. "0 10 * * 6" for Saturdays at 10:00.'),
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Tehran")
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-pk"]
        permissions = [("approve_campaign", _("Can schedule a campaign over the approval size"))]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(holdout_percent__lte=50), name="campaigns_holdout_at_most_half"
            )
        ]

    def __str__(self) -> str:
        return self.name


class CampaignChange(models.Model):
    """The audit trail: who moved a campaign from which status to which, when, and why."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="changes"
    )
    action = models.CharField(_("action"), max_length=40)
    from_status = models.CharField(_("status before"), max_length=20, blank=True)
    to_status = models.CharField(_("status after"), max_length=20, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("campaign change")
        verbose_name_plural = _("campaign changes")
        ordering = ["campaign", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.from_status} → {self.to_status}"


class CampaignRun(models.Model):
    """One sending of a campaign (a recurring campaign has one per occurrence): its audience
    materialised as ``Recipient`` rows, then fanned out in chunks."""

    class Status(models.TextChoices):
        SENDING = "sending", _("Sending")
        PAUSED = "paused", _("Paused")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="runs"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.SENDING
    )
    audience = models.PositiveIntegerField(_("audience"), default=0)
    holdout = models.PositiveIntegerField(_("hold-out"), default=0)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    # When a chunk last handed recipients over: a sending run quiet for long lost its chains
    # (a worker killed mid-chunk); the "Resume stalled campaign runs" task queues them again.
    last_chunk_at = models.DateTimeField(_("last chunk at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("campaign run")
        verbose_name_plural = _("campaign runs")
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.campaign} #{self.pk}"


class Recipient(models.Model):
    """A customer in a run's audience: held out (gets nothing, measures uplift), or waiting for
    the fan-out, or handed to the outbox (``message``).

    A run writes a row per customer of its audience in one statement, so the table carries no
    database-level foreign keys (their per-row checks at commit cost more than the insert):
    rows come only from live customers and runs, and Django still cascades deletes."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        HANDED = "handed", _("Handed to the outbox")
        HELD_OUT = "held_out", _("Held out")

    # Every index costs the run's INSERT … SELECT: the unique (run, customer) and the customer
    # index below serve the foreign keys' look-ups, so they carry no index of their own, and the
    # fan-out claims waiting rows by walking (run, customer) from its place (campaigns.runs).
    run = models.ForeignKey(
        CampaignRun,
        verbose_name=_("run"),
        on_delete=models.CASCADE,
        related_name="recipients",
        db_constraint=False,
        db_index=False,
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="campaign_recipients",
        db_constraint=False,
        db_index=False,
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    message = models.ForeignKey(
        "channels.Message",
        verbose_name=_("message"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        verbose_name = _("recipient")
        verbose_name_plural = _("recipients")
        constraints = [
            models.UniqueConstraint(fields=["run", "customer"], name="campaigns_one_recipient")
        ]
        indexes = [models.Index(fields=["customer"], name="campaigns_recipient_customer")]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.customer_id}"
