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

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    """A customer on a static segment's list."""

    segment = models.ForeignKey(
        Segment, verbose_name=_("segment"), on_delete=models.CASCADE, related_name="members"
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="segment_memberships",
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
