"""The core of the CRM: one deduplicated customer, their identities, timeline and consents."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ChannelKind(models.TextChoices):
    """Where a touchpoint happened; shared by the timeline, carts, orders and messages."""

    WEB = "web", _("Web")
    APP = "app", _("Mobile app")
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    PHONE = "phone", _("Phone")
    STORE = "store", _("Store")
    CHAT = "chat", _("Chat")
    WHATSAPP = "whatsapp", _("WhatsApp")
    TELEGRAM = "telegram", _("Telegram")
    INSTAGRAM = "instagram", _("Instagram")
    PUSH = "push", _("Push")
    OTHER = "other", _("Other")


class Source(models.Model):
    """A system that sends us events: a storefront, an app, a POS, a call-center tool."""

    class Kind(models.TextChoices):
        WEB = "web", _("Web shop")
        APP = "app", _("Mobile app")
        POS = "pos", _("Store POS")
        CALL_CENTER = "call_center", _("Call center")
        PROVIDER = "provider", _("Provider")
        OTHER = "other", _("Other")

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.OTHER)
    trusted = models.BooleanField(
        _("trusted"),
        default=False,
        help_text=_(
            "Emails and phones sent by a trusted source are taken as verified: they may merge "
            "two existing profiles automatically."
        ),
    )
    rate_limit = models.PositiveIntegerField(
        _("requests per minute"),
        default=6000,
        help_text=_("API requests this source may make per minute; 0 means no limit."),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("source")
        verbose_name_plural = _("sources")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def channel(self) -> str:
        """The channel kind of events that name no channel of their own."""
        return {
            self.Kind.WEB: ChannelKind.WEB,
            self.Kind.APP: ChannelKind.APP,
            self.Kind.POS: ChannelKind.STORE,
            self.Kind.CALL_CENTER: ChannelKind.PHONE,
        }.get(self.kind, ChannelKind.OTHER)


class ApiKey(models.Model):
    """A source's secret for the APIs: shown once, stored as a SHA-256 hash, scoped, revocable."""

    class Scope(models.TextChoices):
        TRACK = "track", _("Send tracking events")
        READ = "read", _("Read customers, carts and orders")
        WRITE = "write", _("Change customers, carts, orders, products and consents")
        PRIVACY = "privacy", _("Export and erase a customer's personal data")

    source = models.ForeignKey(
        Source, verbose_name=_("source"), on_delete=models.CASCADE, related_name="keys"
    )
    name = models.CharField(_("label"), max_length=100, blank=True)
    # The first characters of the key, stored in clear to find the row and to tell keys apart.
    prefix = models.CharField(_("key prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.source})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class CustomerQuerySet(models.QuerySet["Customer"]):
    def live(self) -> CustomerQuerySet:
        return self.filter(merged_into__isnull=True)


class Customer(models.Model):
    """One person, whatever channels they used; a merged duplicate stays as a tombstone."""

    class Stage(models.TextChoices):
        AWARENESS = "awareness", _("Awareness")
        CONSIDERATION = "consideration", _("Consideration")
        PURCHASE = "purchase", _("Purchase")
        RETENTION = "retention", _("Retention")
        ADVOCACY = "advocacy", _("Advocacy")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    locale = models.CharField(_("language"), max_length=10, blank=True, choices=settings.LANGUAGES)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    stage = models.CharField(
        _("lifecycle stage"), max_length=20, choices=Stage.choices, default=Stage.AWARENESS
    )
    traits = models.JSONField(_("traits"), default=dict, blank=True)
    # Normalised names, emails and phones, so the admin search matches any spelling or digits.
    search_text = models.TextField(editable=False, blank=True, default="")
    # Never empty (a profile is "seen" when it is made), so the admin list orders the same on
    # every database; the first event earlier than that moves first_seen back.
    first_seen_at = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)
    order_count = models.PositiveIntegerField(_("orders"), default=0)
    total_spent = models.DecimalField(_("total spent"), max_digits=14, decimal_places=2, default=0)
    first_order_at = models.DateTimeField(_("first order"), null=True, blank=True)
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_duplicates",
    )
    merged_at = models.DateTimeField(_("merged at"), null=True, blank=True)
    # Set by customers.services.privacy.erase: the row stays for counts and totals, the person
    # is gone (no name, traits or identifiers).
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-last_seen_at", "-pk"]
        permissions = [
            ("merge_customers", _("Can merge customers and resolve merge suggestions")),
            ("export_customer_data", _("Can export all data held about a customer")),
            ("erase_customer", _("Can erase a customer's personal data")),
        ]
        indexes = [
            # Admin list default ordering, live customers only.
            models.Index(
                fields=["-last_seen_at", "-id"],
                condition=Q(merged_into__isnull=True),
                name="customers_live_recent",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.erased_at is not None:
            return str(_("Erased customer"))
        name = f"{self.first_name} {self.last_name}".strip()
        return name or str(_("Customer %(id)s") % {"id": str(self.public_id)[:8]})

    @property
    def is_merged(self) -> bool:
        return self.merged_into_id is not None

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None


class Identity(models.Model):
    """One identifier of one customer; (kind, value) is unique over normalised values."""

    class Kind(models.TextChoices):
        USER_ID = "user_id", _("Account id")
        ANONYMOUS_ID = "anonymous_id", _("Device / cookie id")
        EMAIL = "email", _("Email")
        PHONE = "phone", _("Phone")
        LOYALTY_CARD = "loyalty_card", _("Loyalty card")
        INSTAGRAM = "instagram", _("Instagram")
        TELEGRAM = "telegram", _("Telegram")
        WHATSAPP = "whatsapp", _("WhatsApp")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="identities"
    )
    # Free text on purpose: a business may add kinds (e.g. "national_id") without a migration.
    kind = models.CharField(_("kind"), max_length=32)
    value = models.CharField(_("value"), max_length=255)
    verified = models.BooleanField(_("verified"), default=False)
    # A provider said this address does not exist (hard bounce): nothing is sent to it again.
    bounced_at = models.DateTimeField(_("hard bounced at"), null=True, blank=True)
    source = models.ForeignKey(
        Source, verbose_name=_("source"), null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("identity")
        verbose_name_plural = _("identities")
        ordering = ["kind", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="customers_identity_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.value}"


class Interaction(models.Model):
    """One touchpoint on the timeline, inbound or outbound, on any channel."""

    class Type(models.TextChoices):
        IDENTIFY = "identify", _("Identify")
        TRACK = "track", _("Event")
        PAGE = "page", _("Page view")
        SCREEN = "screen", _("Screen view")
        CALL = "call", _("Call")
        VISIT = "visit", _("Store visit")
        CHAT = "chat", _("Chat")
        NOTE = "note", _("Note")
        MESSAGE = "message", _("Message")
        ORDER = "order", _("Order")
        SYSTEM = "system", _("System")

    class Direction(models.TextChoices):
        INBOUND = "in", _("Inbound")
        OUTBOUND = "out", _("Outbound")
        INTERNAL = "internal", _("Internal")

    # No index of its own: the timeline indexes below start with customer.
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="interactions",
        db_index=False,
    )
    source = models.ForeignKey(
        Source, verbose_name=_("source"), null=True, blank=True, on_delete=models.PROTECT
    )
    channel = models.CharField(_("channel"), max_length=20, choices=ChannelKind.choices)
    type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    direction = models.CharField(
        _("direction"), max_length=10, choices=Direction.choices, default=Direction.INBOUND
    )
    name = models.CharField(_("name"), max_length=200, blank=True)
    summary = models.CharField(_("summary"), max_length=500, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    context = models.JSONField(_("context"), default=dict, blank=True)
    # Mostly empty, and never searched by: an index would only slow every insert.
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agent"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # The sender's id for the event; replaying it from the same source changes nothing.
    message_id = models.CharField(_("message id"), max_length=200, blank=True, default="")
    # The support case this touchpoint belongs to (an inbound message, a call, a reply).
    case = models.ForeignKey(
        "Case",
        verbose_name=_("case"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="interactions",
        db_index=False,
    )

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        ordering = ["-occurred_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "message_id"],
                condition=~Q(message_id=""),
                name="customers_interaction_message_id_unique",
            ),
        ]
        indexes = [
            # Used by selectors.timeline(): one keyset scan, newest first, per customer.
            models.Index(fields=["customer", "-occurred_at", "-id"], name="customers_timeline"),
            models.Index(
                fields=["customer", "channel", "-occurred_at", "-id"],
                name="customers_timeline_channel",
            ),
            # Segment rules "did X at least N times in the last D days": an index-only scan
            # grouped by customer, without reading the wide rows.
            models.Index(fields=["name", "customer", "occurred_at"], name="customers_event_counts"),
            # Reports over a period (the insights dashboard's channel mix and cross-channel
            # journeys) without reading the whole table.
            models.Index(
                fields=["occurred_at", "channel", "direction"], name="customers_interaction_period"
            ),
            models.Index(
                fields=["case", "occurred_at"],
                name="customers_case_timeline",
                condition=Q(case__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.summary or self.name or self.get_type_display()


class Consent(models.Model):
    """Permission to contact an address (or the whole customer) for one purpose, with proof."""

    class Purpose(models.TextChoices):
        MARKETING = "marketing", _("Marketing")
        TRANSACTIONAL = "transactional", _("Transactional")

    class Status(models.TextChoices):
        GRANTED = "granted", _("Granted")
        PENDING = "pending", _("Pending confirmation")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    # Most restrictive first: on merge the lower rank wins ("opt-out wins").
    RESTRICTIVENESS = {Status.WITHDRAWN: 0, Status.PENDING: 1, Status.GRANTED: 2}

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="consents"
    )
    # Null means customer-wide (e.g. "no marketing at all, on any address").
    identity = models.ForeignKey(
        Identity,
        verbose_name=_("address"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="consents",
    )
    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices)
    source = models.ForeignKey(
        Source, verbose_name=_("source"), null=True, blank=True, on_delete=models.SET_NULL
    )
    wording = models.TextField(_("wording shown"), blank=True)
    proof = models.JSONField(_("proof"), default=dict, blank=True)
    # Once the customer is erased the address row is gone; the consent keeps, as proof of which
    # address it was about, the address's digest (ErasedIdentifier.digest).
    erased_address = models.CharField(
        _("erased address (SHA-256)"), max_length=64, blank=True, default="", db_default=""
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["purpose", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["identity", "purpose"],
                condition=Q(identity__isnull=False),
                name="customers_consent_per_address",
            ),
            models.UniqueConstraint(
                fields=["customer", "purpose"],
                condition=Q(identity__isnull=True, erased_address=""),
                name="customers_consent_customer_wide",
            ),
        ]

    def __str__(self) -> str:
        if self.erased_address:
            target = _("erased address")
        else:
            target = self.identity.value if self.identity_id else _("all addresses")
        return f"{self.get_purpose_display()} / {target}: {self.get_status_display()}"


class MergeRecord(models.Model):
    """What one merge moved, in enough detail to undo it exactly."""

    survivor = models.ForeignKey(
        Customer, verbose_name=_("survivor"), on_delete=models.PROTECT, related_name="+"
    )
    duplicate = models.ForeignKey(
        Customer, verbose_name=_("duplicate"), on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("merged by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("merged at"), default=timezone.now)
    # {"app_label.model": [pk, ...]} of the rows that moved from duplicate to survivor.
    moved = models.JSONField(default=dict)
    # Survivor's field values before the merge filled them in, and right after: an undo puts
    # back a field only while it still holds what the merge wrote.
    survivor_before = models.JSONField(default=dict)
    survivor_after = models.JSONField(default=dict)
    # [{"pk": consent pk, "status": prior status, ...}] of survivor rows a merge made stricter.
    consent_before = models.JSONField(default=list)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("undone by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("merge record")
        verbose_name_plural = _("merge records")
        ordering = ["-created_at", "-pk"]
        permissions = [("undo_mergerecord", _("Can undo a merge"))]

    def __str__(self) -> str:
        return str(_("%(duplicate)s into %(survivor)s")) % {
            "duplicate": self.duplicate_id,
            "survivor": self.survivor_id,
        }


class MergeSuggestion(models.Model):
    """Two live profiles that share an identifier the system may not merge on its own."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+"
    )
    other = models.ForeignKey(
        Customer, verbose_name=_("possible duplicate"), on_delete=models.CASCADE, related_name="+"
    )
    identity_kind = models.CharField(_("shared identifier kind"), max_length=32)
    identity_value = models.CharField(_("shared identifier"), max_length=255)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.OPEN
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("merge suggestion")
        verbose_name_plural = _("merge suggestions")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # customer < other, so one pair has one open suggestion whichever side found it.
            models.UniqueConstraint(
                fields=["customer", "other"],
                condition=Q(status="open"),
                name="customers_one_open_suggestion_per_pair",
            ),
            models.CheckConstraint(
                condition=Q(customer__lt=models.F("other")),
                name="customers_suggestion_ordered_pair",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} ~ {self.other_id} ({self.identity_kind})"


class Case(models.Model):
    """A support case: one customer's question or problem, followed across channels from the
    first inbound message or call to its resolution, with the times a manager reports on."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        WAITING = "waiting", _("Waiting on customer")
        RESOLVED = "resolved", _("Resolved")

    class Priority(models.IntegerChoices):
        LOW = 1, _("Low")
        NORMAL = 2, _("Normal")
        HIGH = 3, _("High")
        URGENT = 4, _("Urgent")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="cases"
    )
    subject = models.CharField(_("subject"), max_length=200)
    channel = models.CharField(
        _("opened on"), max_length=20, choices=ChannelKind.choices, default=ChannelKind.OTHER
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.OPEN
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="cases",
    )
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    # Satisfaction (CSAT): asked when resolved, answered 1–5 by the customer.
    csat_requested_at = models.DateTimeField(_("satisfaction asked at"), null=True, blank=True)
    csat_score = models.PositiveSmallIntegerField(_("satisfaction"), null=True, blank=True)
    csat_comment = models.CharField(_("satisfaction comment"), max_length=1000, blank=True)
    csat_answered_at = models.DateTimeField(_("satisfaction answered at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(csat_score__isnull=True) | Q(csat_score__gte=1, csat_score__lte=5),
                name="customers_case_csat_range",
            ),
        ]
        indexes = [
            # The agents' queue: unresolved cases, oldest first, by assignee.
            models.Index(
                fields=["assignee", "opened_at"],
                name="customers_case_queue",
                condition=~Q(status="resolved"),
            ),
            # Reports by the date a case was opened.
            models.Index(fields=["opened_at"], name="customers_case_opened"),
        ]

    def __str__(self) -> str:
        return self.subject


class ErasedIdentifier(models.Model):
    """The suppression list: a digest of each identifier of an erased customer, so identity
    resolution never stores that identifier again (customers.services.suppression)."""

    kind = models.CharField(_("kind"), max_length=32)
    # SHA-256 hex of the kind and normalised value (see customers.services.suppression.digest).
    digest = models.CharField(_("SHA-256"), max_length=64, unique=True)
    erased_at = models.DateTimeField(_("erased at"), default=timezone.now)

    class Meta:
        verbose_name = _("erased identifier")
        verbose_name_plural = _("erased identifiers")
        ordering = ["-erased_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.digest[:12]}…"
