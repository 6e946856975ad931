"""The audit log: who did what that matters to the people whose data we hold."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditEntry(models.Model):
    """One staff (or API key) action, written in the same transaction as the action itself.

    Append-only: the admin shows entries and offers no way to add, change or delete one."""

    class Action(models.TextChoices):
        MERGE = "customer.merge", _("Customers merged")
        MERGE_UNDO = "customer.merge_undo", _("Merge undone")
        EXPORT = "customer.export", _("Customer data exported")
        ERASE = "customer.erase", _("Customer erased")
        CONSENT = "consent.change", _("Consent changed by staff")
        IDENTITY_VERIFIED = "identity.verify", _("Identity verified")
        CAMPAIGN_SCHEDULE = "campaign.schedule", _("Campaign scheduled")
        CAMPAIGN_APPROVE = "campaign.approve", _("Campaign approved")
        SEGMENT_EXPORT = "segment.export", _("Segment audience exported")
        FIGURE_EXPORT = "insights.export", _("Dashboard figure exported")
        KEY_CREATE = "apikey.create", _("API key created")
        KEY_ROTATE = "apikey.rotate", _("API key rotated")
        KEY_REVOKE = "apikey.revoke", _("API key revoked")
        SECRET_CHANGE = "channel.secret", _("Channel secret changed")
        TWO_FACTOR = "staff.two_factor", _("Two-factor device changed")

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff member"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Who it was, as shown at the time: a user name, "API key ab12cd…", or "system". Kept when
    # the user is deleted.
    actor_label = models.CharField(_("by"), max_length=150)
    action = models.CharField(_("action"), max_length=40, choices=Action.choices)
    target_type = models.CharField(_("target type"), max_length=100, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    target_label = models.CharField(_("target"), max_length=200, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-pk"]
        indexes = [
            models.Index(fields=["target_type", "target_id", "-at"], name="security_audit_target"),
            models.Index(fields=["action", "-at"], name="security_audit_action"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label}: {self.get_action_display()}"


class VerificationCode(models.Model):
    """A one-time code sent to one email or phone to prove its owner holds it.

    Only an HMAC of the code is kept (channels.verification makes and checks it). A code is
    live until ``expires_at``, until it is used (``consumed_at``) or until ``max`` wrong tries."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("Email")
        PHONE = "phone", _("Phone")

    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    # Normalised as identities are (lower-case email, E.164 phone).
    value = models.CharField(_("address"), max_length=255)
    code_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    attempts = models.PositiveSmallIntegerField(_("wrong attempts"), default=0)
    consumed_at = models.DateTimeField(_("used at"), null=True, blank=True)
    source = models.ForeignKey(
        "customers.Source",
        verbose_name=_("source"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # As the audit log shows it: "API key ab12cd…", a user name, or "system".
    requested_by = models.CharField(_("requested by"), max_length=150, blank=True)
    message = models.ForeignKey(
        "channels.Message",
        verbose_name=_("message"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("verification code")
        verbose_name_plural = _("verification codes")
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The rate limits count recent codes per address and per customer, and confirm
            # finds the newest live code of one address.
            models.Index(fields=["kind", "value", "-created_at"], name="security_vcode_address"),
            models.Index(fields=["customer", "-created_at"], name="security_vcode_customer"),
            # The sweep (channels.verification.sweep) deletes long-expired codes.
            models.Index(fields=["expires_at"], name="security_vcode_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.value} ({self.created_at:%Y-%m-%d %H:%M})"
