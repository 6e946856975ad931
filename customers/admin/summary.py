"""The customer page's first screen: what the customers app itself knows of the person, in a
few cards — lifetime value, open support cases, and whether marketing may reach them on each
channel. Other apps add their own cards (live cart, last order, journeys) through
``panels.register(..., slot=panels.SUMMARY)``.

Every card costs a fixed number of queries, whatever the customer's history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Window
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers import cases
from customers.admin.base import channel_badge
from customers.consents import ADDRESS_KIND, ConsentBook
from customers.models import Case, Consent, Customer, Identity

if TYPE_CHECKING:
    from django.http import HttpRequest

# The channels a marketing message can go out on, in the order the badges are drawn.
MARKETING_CHANNELS = ("email", "sms", "whatsapp", "telegram", "push")
# Open cases listed in the card; the rest are counted and linked.
CASES_SHOWN = 5

CONSENT_LABELS = {
    "granted": _("Granted"),
    "pending": _("Pending"),
    "withdrawn": _("Withdrawn"),
    "bounced": _("Bounced"),
    "none": _("None"),
    "no_address": _("No address"),
}


@dataclass(frozen=True)
class ConsentBadge:
    """Whether a marketing message may go to the customer on one channel, and why not."""

    channel: dict[str, Any]
    state: str  # granted / pending / withdrawn / bounced / none / no_address
    address: str
    reason: str

    @property
    def label(self) -> str:
        return str(CONSENT_LABELS[self.state])


def lifetime_value(customer: Customer) -> dict[str, Any]:
    """Spent, orders and average order value from the aggregates commerce keeps on the row."""
    count = customer.order_count or 0
    spent = customer.total_spent or Decimal(0)
    average = (spent / count).quantize(Decimal("0.01"), ROUND_HALF_UP) if count else None
    return {
        "total_spent": spent,
        "order_count": count,
        "average_order": average,
        "first_order_at": customer.first_order_at,
        "last_order_at": customer.last_order_at,
    }


def consent_badges(
    customer: Customer, identities: Sequence[Identity], consents: Sequence[Consent]
) -> list[ConsentBadge]:
    """One badge per marketing channel. "Granted" exactly when delivery would send there: the
    same ``ConsentBook.why_not`` the outbox asks, over the addresses in the order it tries them
    (verified first, newest first), over the consents the page read already: no query."""
    book = ConsentBook.of(consents)
    statuses = {
        (consent.identity_id, consent.purpose): consent.status
        for consent in consents
        if consent.purpose == Consent.Purpose.MARKETING
    }
    badges = []
    for channel in MARKETING_CHANNELS:
        kind = ADDRESS_KIND[channel]
        addresses = sorted(
            (identity for identity in identities if identity.kind == kind),
            key=lambda i: (i.verified, i.created_at, i.pk),
            reverse=True,
        )
        badge = channel_badge(channel)
        if not addresses:
            badges.append(ConsentBadge(badge, "no_address", "", str(_("No address to write to."))))
            continue
        reasons = [
            (address, book.why_not(address, Consent.Purpose.MARKETING)) for address in addresses
        ]
        reachable = next((address for address, reason in reasons if reason is None), None)
        if reachable is not None:
            badges.append(ConsentBadge(badge, "granted", reachable.value, ""))
            continue
        first, reason = reasons[0]
        badges.append(ConsentBadge(badge, _state(first, statuses), first.value, str(reason)))
    return badges


def _state(address: Identity, statuses: dict[tuple[int | None, str], str]) -> str:
    """Why ``why_not`` refused, as a badge: checked in the order it checks."""
    marketing = Consent.Purpose.MARKETING
    on_address, everywhere = statuses.get((address.pk, marketing)), statuses.get((None, marketing))
    if address.bounced_at is not None:
        return "bounced"
    if Consent.Status.WITHDRAWN in (on_address, everywhere):
        return "withdrawn"
    if on_address == Consent.Status.PENDING:
        return "pending"
    return "none"


def open_cases(request: HttpRequest, customer: Customer) -> dict[str, Any] | None:
    """The customer's unresolved cases, most urgent first, with their overdue flag and how
    many there are: one query."""
    if not request.user.has_perm("customers.view_case"):
        return None
    # Most urgent first, then the longest waiting (the ones that go overdue first). The
    # window counts them all in the same query (it is computed before the LIMIT).
    shown = list(
        cases.open_cases(customer)
        .annotate(open_count=Window(Count("pk")))
        .order_by("-priority", "opened_at", "pk")[:CASES_SHOWN]
    )
    count = shown[0].open_count if shown else 0
    now = timezone.now()
    return {
        "rows": [
            {
                "case": case,
                "url": _case_url(case),
                "channel": channel_badge(case.channel),
                "overdue": cases.is_overdue(case, now),
            }
            for case in shown
        ],
        "count": count,
        "more": count > CASES_SHOWN,
        "list_url": _case_list_url(customer),
    }


def _case_url(case: Case) -> str | None:
    try:
        return reverse("admin:customers_case_change", args=[case.pk])
    except NoReverseMatch:  # the case admin is registered by the support cases feature
        return None


def _case_list_url(customer: Customer) -> str | None:
    try:
        return f"{reverse('admin:customers_case_changelist')}?customer__id__exact={customer.pk}"
    except NoReverseMatch:
        return None
