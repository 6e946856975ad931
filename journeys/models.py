"""Journeys: what the system does on its own after a customer does something — remind about a
cart, follow up a viewed product, tell them a product is back, ask how an order went.

A ``Journey`` says what enrolls a customer (an event, or a system trigger), what makes them leave
(exit events) and what counts as its goal; its ``JourneyStep``s wait, check a condition and send.
An ``Enrollment`` is one customer's way through one journey for one context (a cart, a product,
an order); the beat sweep advances due enrollments (journeys/engine.py).
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import Customer


class Journey(models.Model):
    class Context(models.TextChoices):
        CART = "cart", _("The live cart")
        PRODUCT = "product", _("The product of the event")
        ORDER = "order", _("The order of the event")
        NONE = "none", _("None (one per customer)")

    key = models.SlugField(
        _("key"), max_length=60, unique=True, help_text=_("Stable identifier, e.g. abandoned_cart.")
    )
    name = models.CharField(_("name"), max_length=200)
    trigger_events = models.JSONField(
        _("entered on"), default=list, help_text=_('Event names, e.g. ["Checkout Started"].')
    )
    trigger_filter = models.JSONField(
        _("only when the event's properties are"),
        default=dict,
        blank=True,
        help_text=_('Property values the event must carry, e.g. {"currency": "IRR"}.'),
    )
    context = models.CharField(
        _("one enrollment per"), max_length=20, choices=Context.choices, default=Context.NONE
    )
    restart_on_trigger = models.BooleanField(
        _("a new trigger restarts the first wait"),
        default=False,
        help_text=_("For 'idle' journeys: every cart change restarts the clock."),
    )
    exit_events = models.JSONField(
        _("left on"), default=list, blank=True, help_text=_("Event names that end it at once.")
    )
    goal_event = models.CharField(_("goal event"), max_length=200, blank=True)
    goal_window = models.DurationField(
        _("goal window"), default=dt.timedelta(days=5), help_text=_("Conversion attribution.")
    )
    reentry_period = models.DurationField(
        _("at most once per"),
        null=True,
        blank=True,
        help_text=_("Per customer; empty means whenever the previous enrollment ended."),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("journey")
        verbose_name_plural = _("journeys")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class JourneyStep(models.Model):
    class Condition(models.TextChoices):
        ALWAYS = "", _("Always")
        CART_HAS_ITEMS = "cart_has_items", _("The cart still has items and was not bought")
        PRODUCT_NOT_TAKEN = (
            "product_not_taken",
            _("The product was not added to a cart or ordered since"),
        )
        IN_STOCK = "in_stock", _("The product is in stock")

    class Purpose(models.TextChoices):
        MARKETING = "marketing", _("Marketing")
        TRANSACTIONAL = "transactional", _("Transactional")

    journey = models.ForeignKey(
        Journey, verbose_name=_("journey"), on_delete=models.CASCADE, related_name="steps"
    )
    position = models.PositiveSmallIntegerField(_("order"))
    wait = models.DurationField(_("wait before"), default=dt.timedelta(0))
    condition = models.CharField(
        _("only if"), max_length=30, choices=Condition.choices, blank=True, default=""
    )
    channels = models.JSONField(
        _("channels in order"), default=list, help_text=_('e.g. ["email", "sms"]')
    )
    template = models.SlugField(_("template key"), max_length=100)
    purpose = models.CharField(
        _("purpose"), max_length=20, choices=Purpose.choices, default=Purpose.MARKETING
    )
    intent = models.CharField(
        _("intent"), max_length=40, blank=True, help_text=_("For arbitration: checkout, cart…")
    )
    discount_code = models.CharField(_("discount code"), max_length=60, blank=True)
    set_stage = models.CharField(
        _("then set stage"), max_length=20, blank=True, choices=Customer.Stage.choices
    )

    class Meta:
        verbose_name = _("step")
        verbose_name_plural = _("steps")
        ordering = ["journey", "position"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "position"], name="journeys_step_order")
        ]

    def __str__(self) -> str:
        return f"{self.journey.key} #{self.position}"


class Enrollment(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        COMPLETED = "completed", _("Completed")
        EXITED = "exited", _("Exited")
        FAILED = "failed", _("Failed")

    journey = models.ForeignKey(
        Journey, verbose_name=_("journey"), on_delete=models.CASCADE, related_name="enrollments"
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="enrollments",
        db_index=False,  # journeys_enrollment_customer (customer, journey) serves it
    )
    context_key = models.CharField(_("context"), max_length=120, blank=True)
    context = models.JSONField(_("context data"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    step = models.PositiveSmallIntegerField(_("next step"), default=0)
    next_run_at = models.DateTimeField(_("next run"), null=True, blank=True)
    entered_at = models.DateTimeField(_("entered at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    messages_sent = models.PositiveSmallIntegerField(_("messages"), default=0)
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True)
    revenue = models.DecimalField(
        _("revenue attributed"), max_digits=14, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        ordering = ["-entered_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "customer", "context_key"],
                condition=Q(status="active"),
                name="journeys_one_active_enrollment",
            )
        ]
        indexes = [
            # The sweep's "due" query: active enrollments by next run, and nothing else.
            models.Index(
                fields=["next_run_at"],
                condition=Q(status="active"),
                name="journeys_enrollment_due",
            ),
            models.Index(fields=["customer", "journey"], name="journeys_enrollment_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.journey_id}/{self.customer_id} {self.context_key}"
