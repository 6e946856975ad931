"""Outbound side of channels: configured channels, message templates, the outbox, and the rules
that hold a message back (frequency caps, holidays). The tracking API (inbound events) keeps no
models of its own: it writes interactions in ``customers``."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, Identity
from security import crypto

if TYPE_CHECKING:
    from channels.backends.base import Backend

# Keys of Channel.settings whose values are secrets: never shown in lists, forms or logs, and
# stored encrypted (security/crypto.py). Under such a key, every value at any depth is secret.
SECRET_MARKERS = ("password", "secret", "token", "key", "auth")


def is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in SECRET_MARKERS)


SECRET_PLACEHOLDER = "••••••"


def masked(value: Any) -> Any:
    """A copy of channel settings with every secret value (at any depth, so
    ``headers.Authorization`` too) replaced, for display and logs."""
    if isinstance(value, dict):
        return {
            key: SECRET_PLACEHOLDER
            if is_secret(str(key)) and item not in ("", None)
            else masked(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def seal_settings(value: Any, *, secret: bool = False) -> Any:
    """Settings as stored: each value under a secret key encrypted (as JSON, so a number stays
    a number), what is encrypted already kept as it is."""
    if isinstance(value, dict):
        return {
            key: seal_settings(item, secret=secret or is_secret(str(key)))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [seal_settings(item, secret=secret) for item in value]
    if not secret or value in ("", None) or crypto.is_encrypted(value):
        return value
    return crypto.encrypt(json.dumps(value, ensure_ascii=False))


def open_settings(value: Any) -> Any:
    """Settings with every encrypted value decrypted (plaintext left from before encryption
    passes as it is); raises crypto.DecryptionError when a key is missing."""
    if isinstance(value, dict):
        return {key: open_settings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [open_settings(item) for item in value]
    if crypto.is_encrypted(value):
        return json.loads(crypto.decrypt(value))
    return value


def secret_values(value: Any, *, secret: bool = False) -> dict[str, Any]:
    """{dotted path: plaintext} of every secret leaf, e.g. ``headers.Authorization``."""
    found: dict[str, Any] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            for path, leaf in secret_values(item, secret=secret or is_secret(str(key))).items():
                found[f"{key}.{path}" if path else str(key)] = leaf
    elif isinstance(value, list):
        for n, item in enumerate(value):
            for path, leaf in secret_values(item, secret=secret).items():
                found[f"{n}.{path}" if path else str(n)] = leaf
    elif secret and value not in ("", None):
        try:
            found[""] = open_settings(value)
        except crypto.DecryptionError:  # compared as stored: a new value differs all the same
            found[""] = value
    return found


def changed_secrets(old: Any, new: Any) -> list[str]:
    """The paths of the secret settings that were added, changed or removed (never values)."""
    before, after = secret_values(old or {}), secret_values(new or {})
    return sorted(
        path for path in before.keys() | after.keys() if before.get(path) != after.get(path)
    )


class SecretSettingsField(models.JSONField):
    """A JSON object whose secret values (see ``is_secret``) are encrypted on every way to the
    database (save, create, bulk_create, update). Read them with ``Channel.plain_settings()``."""

    def get_prep_value(self, value: Any) -> Any:
        return super().get_prep_value(seal_settings(value))

    def rotated(self, value: Any, counts: Counter[str], *, secret: bool = False) -> Any:
        """``value`` with every secret under the first key (``manage.py rotate_secrets``)."""
        if isinstance(value, dict):
            return {
                key: self.rotated(item, counts, secret=secret or is_secret(str(key)))
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.rotated(item, counts, secret=secret) for item in value]
        if crypto.is_encrypted(value):
            return crypto.refreshed(value, counts)
        if secret and value not in ("", None):
            counts["encrypted"] += 1
            return seal_settings(value, secret=True)
        return value


class SecretCharField(models.CharField):
    """A string stored encrypted (``enc:v1:…``); read it with the model's accessor."""

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return crypto.seal(value) if isinstance(value, str) else value

    def rotated(self, value: Any, counts: Counter[str]) -> Any:
        """``value`` under the first key (``manage.py rotate_secrets``)."""
        return crypto.refreshed(value, counts) if isinstance(value, str) else value


class Channel(models.Model):
    """A configured outbound channel: which backend delivers it, with what settings."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")
        PUSH = "push", _("Push")
        WHATSAPP = "whatsapp", _("WhatsApp")
        TELEGRAM = "telegram", _("Telegram")
        WEBHOOK = "webhook", _("Webhook")

    BACKENDS = {
        "channels.backends.console.ConsoleBackend": _("Console (prints messages)"),
        "channels.backends.locmem.LocmemBackend": _("In memory (tests)"),
        "channels.backends.smtp.SmtpBackend": _("Email through Django (SMTP, django-anymail)"),
        "channels.backends.http.HttpBackend": _("Generic HTTP/SMS gateway"),
        "channels.backends.twilio.TwilioBackend": _("Twilio"),
        "channels.backends.webhook.WebhookBackend": _("Signed webhook"),
    }

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    backend = models.CharField(
        _("backend"),
        max_length=200,
        choices=list(BACKENDS.items()),
        default="channels.backends.console.ConsoleBackend",
    )
    # Secret values stay encrypted in this attribute once read from the database; backends
    # read them through plain_settings().
    settings = SecretSettingsField(
        _("settings"),
        default=dict,
        blank=True,
        help_text=_("Backend settings as JSON; secret values are never shown again."),
    )
    sender = models.CharField(
        _("sender"),
        max_length=200,
        blank=True,
        help_text=_("From address, sender number or bot name the customer sees."),
    )
    rate_limit = models.PositiveIntegerField(
        _("rate limit per minute"), default=0, help_text=_("0 means no limit.")
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), default=100, help_text=_("Lower goes first among channels of one kind.")
    )
    # Send window in the customer's time zone (for marketing); empty means any time.
    window_start = models.TimeField(_("send window starts"), null=True, blank=True)
    window_end = models.TimeField(_("send window ends"), null=True, blank=True)
    skip_rest_days = models.BooleanField(
        _("not on rest days and holidays"),
        default=False,
        help_text=_(
            "Hold marketing on the weekly rest days and holidays of the customer's region."
        ),
    )
    # Encrypted at rest (the column holds enc:v1:…); hooks read it through plain_webhook_secret().
    webhook_secret = SecretCharField(
        _("webhook secret"),
        max_length=512,
        blank=True,
        help_text=_("Shared secret the provider signs status and inbound webhooks with."),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["priority", "pk"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            import_string(self.backend)
        except ImportError as error:
            raise ValidationError({"backend": _("No such backend.")}) from error
        if not isinstance(self.settings, dict):
            raise ValidationError({"settings": _("Settings must be a JSON object.")})
        if (self.window_start is None) != (self.window_end is None):
            raise ValidationError(_("Give both ends of the send window, or neither."))

    def get_backend(self) -> Backend:
        return import_string(self.backend)(self)

    @property
    def public_settings(self) -> dict:
        return masked(self.settings or {})

    def plain_settings(self) -> dict[str, Any]:
        """The settings with their secrets decrypted: only for the backend that uses them, never
        for display or logs. Raises crypto.DecryptionError when no configured key opens one."""
        return open_settings(dict(self.settings or {}))

    def plain_webhook_secret(self) -> str:
        """The webhook secret in plaintext ("" when none): only for checking signatures."""
        return crypto.reveal(self.webhook_secret or "")


class Template(models.Model):
    """What a message says, per purpose key, channel kind and language (Django template
    language; context documented in docs/messages.md)."""

    key = models.SlugField(
        _("key"), max_length=100, help_text=_("What the message is for, e.g. abandoned_cart.")
    )
    kind = models.CharField(_("channel kind"), max_length=20, choices=Channel.Kind.choices)
    locale = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    text = models.TextField(_("text"))
    html = models.TextField(_("HTML"), blank=True, help_text=_("Email only; optional."))
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("template")
        verbose_name_plural = _("templates")
        ordering = ["key", "kind", "locale"]
        constraints = [
            models.UniqueConstraint(
                fields=["key", "kind", "locale"], name="channels_template_one_per_language"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.kind}, {self.locale})"


class Message(models.Model):
    """The outbox: every outbound message is a row first; delivery only ever moves it on."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        BOUNCED = "bounced", _("Bounced")
        SUPPRESSED = "suppressed", _("Suppressed")

    class Purpose(models.TextChoices):
        MARKETING = "marketing", _("Marketing")
        TRANSACTIONAL = "transactional", _("Transactional")

    PENDING = (Status.QUEUED, Status.SENDING)
    # Counted by the frequency cap and arbitration: the customer received (or is receiving) it.
    OUT = (Status.SENDING, Status.SENT, Status.DELIVERED)

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,  # channels_msg_recent (customer, -created_at) serves it
    )
    channel = models.ForeignKey(
        Channel,
        verbose_name=_("channel"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
    )
    kind = models.CharField(_("channel kind"), max_length=20, blank=True)
    address = models.ForeignKey(
        Identity,
        verbose_name=_("address"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    to = models.CharField(_("to"), max_length=320, blank=True)
    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices)
    intent = models.CharField(
        _("intent"),
        max_length=40,
        blank=True,
        help_text=_("What it is about, for arbitration: checkout, cart, browse, campaign, …"),
    )
    # Unique by a constraint (Meta), which unlike unique=True adds no second LIKE index.
    idempotency_key = models.CharField(_("idempotency key"), max_length=200)
    template = models.ForeignKey(
        Template, verbose_name=_("template"), null=True, blank=True, on_delete=models.SET_NULL
    )
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    text = models.TextField(_("text"), blank=True)
    html = models.TextField(_("HTML"), blank=True)
    links = models.JSONField(_("tracked links"), default=list, blank=True)
    context = models.JSONField(_("context"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.QUEUED
    )
    reason = models.CharField(
        _("reason"),
        max_length=300,
        blank=True,
        help_text=_("Why it is held, failed or suppressed."),
    )
    rule = models.CharField(_("rule"), max_length=60, blank=True)
    not_before = models.DateTimeField(_("deferred until"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    provider_id = models.CharField(_("provider id"), max_length=200, blank=True)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sent by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # channels_msg_agent, partial: most messages have no agent
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    sending_at = models.DateTimeField(_("sending since"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    failed_at = models.DateTimeField(_("failed at"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True)
    clicked_at = models.DateTimeField(_("clicked at"), null=True, blank=True)
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-pk"]
        # Every index costs each of the thousands of inserts a fan-out makes: none twice.
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"], name="channels_message_idempotency_key_key"
            )
        ]
        indexes = [
            # The cap and arbitration: this customer's recent messages.
            models.Index(fields=["customer", "-created_at"], name="channels_msg_recent"),
            # Provider webhooks find the message by its id at the provider.
            models.Index(
                fields=["channel", "provider_id"],
                name="channels_msg_provider",
                condition=~Q(provider_id=""),
            ),
            models.Index(
                fields=["agent"], name="channels_msg_agent", condition=Q(agent__isnull=False)
            ),
            # The sweeps: due deferred messages, and sends stuck after a crash.
            models.Index(
                fields=["status", "not_before"],
                name="channels_msg_pending",
                condition=Q(status__in=["queued", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind or '-'} #{self.pk} → {self.to or self.customer_id}"

    @property
    def deferred(self) -> bool:
        return self.status == self.Status.QUEUED and self.not_before is not None


class FrequencyCap(models.Model):
    """At most ``limit`` marketing messages to one customer per period, on all channels."""

    class Action(models.TextChoices):
        SKIP = "skip", _("Skip the message")
        DEFER = "defer", _("Defer until the cap allows")

    name = models.CharField(_("name"), max_length=100)
    limit = models.PositiveSmallIntegerField(_("at most"))
    period = models.DurationField(_("per period"), help_text=_("e.g. 1 day, 7 days"))
    action = models.CharField(_("when reached"), max_length=10, choices=Action.choices)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("frequency cap")
        verbose_name_plural = _("frequency caps")
        ordering = ["period", "pk"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.period is not None and self.period < dt.timedelta(minutes=1):
            raise ValidationError({"period": _("The period must be at least a minute.")})


class Holiday(models.Model):
    """A day on which channels that skip rest days hold marketing, for one region or all."""

    date = models.DateField(_("date"))
    region = models.CharField(
        _("region"),
        max_length=2,
        blank=True,
        help_text=_("ISO country code, e.g. IR, AZ, AE; empty for every region."),
    )
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["date", "region"], name="channels_holiday_once")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"
