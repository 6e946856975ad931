"""Cart restore links: a reminder carries one signed link that brings the live cart back on
whatever channel the customer opens it — the web shop, the app, a tablet in the store.

The link names the customer, not a device: the crm keeps one live cart per customer across
channels, so the storefront that opens the link asks the API for that cart
(``POST /api/v1/cart-restores``) and rebuilds its own session from it. ``/cart/<token>/`` on the
crm sends the browser on to ``CART_RESTORE_URL`` (the shop's page that does this), or shows the
cart itself when no shop URL is configured. Links live ``CART_RESTORE_MAX_AGE`` seconds.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core import signing
from django.utils.translation import gettext_lazy as _

from commerce.models import Cart
from customers import services as customers
from customers.errors import DomainError
from customers.links import link
from customers.models import Customer, Interaction

RESTORE_SALT = "commerce.cart_restore"


def restore_token(cart: Cart, public_id: object) -> str:
    return signing.dumps({"c": str(public_id), "k": cart.pk}, salt=RESTORE_SALT, compress=True)


def restore_url(cart: Cart, public_id: object) -> str:
    return link("cart-restore", restore_token(cart, public_id))


def shop_url(token: str) -> str:
    """Where ``/cart/<token>/`` sends the browser ("" when the crm shows the cart itself)."""
    return settings.CART_RESTORE_URL.replace("{token}", token) if settings.CART_RESTORE_URL else ""


def live_cart(token: str) -> tuple[Customer, Cart]:
    """The customer a restore link names (following merges) and their live cart now.

    Raises DomainError ``invalid_link`` (forged, mangled or expired) or ``cart_gone`` (the cart
    was bought or emptied since; there is nothing to restore)."""
    try:
        data = signing.loads(token, salt=RESTORE_SALT, max_age=settings.CART_RESTORE_MAX_AGE)
    except signing.BadSignature as error:
        raise DomainError("invalid_link", _("This cart link is invalid or has expired.")) from error
    try:
        customer = Customer.objects.filter(public_id=uuid.UUID(str(data.get("c")))).first()
    except ValueError:
        customer = None
    if customer is not None:
        customer = customers.live(customer)  # a merged customer's link brings the survivor's cart
    if customer is None:
        raise DomainError("invalid_link", _("This cart link is invalid or has expired."))
    cart = (
        Cart.objects.filter(customer=customer, status=Cart.Status.ACTIVE)
        .prefetch_related("lines")
        .first()
    )
    if cart is None or not cart.lines.all():
        raise DomainError(
            "cart_gone",
            _("This cart was ordered or emptied since; there is nothing to restore."),
            status=410,
        )
    return customer, cart


def restore(token: str, *, channel: str, source: object = None) -> tuple[Customer, Cart]:
    """A storefront restores the cart of a link: returns it and puts ``Cart Restored`` on the
    customer's timeline with the channel it was restored on."""
    customer, cart = live_cart(token)
    customers.record_interaction(
        customer=customer,
        type=Interaction.Type.TRACK,
        channel=channel,
        name="Cart Restored",
        summary="Cart restored from a reminder link",
        properties={"crm_cart_id": cart.pk, "lines": len(cart.lines.all())},
        source=source,
    )
    return customer, cart
