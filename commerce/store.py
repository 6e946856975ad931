"""A store associate turns the customer's live cart into an order placed in the store.

The order goes through the one order path there is: an ``Order Completed`` interaction on the
customer's timeline (channel ``store``, the associate as its agent), which the commerce reactor
turns into the order with ``services.place_order`` (cart converted, lifetime value updated) and
which journeys see like any other purchase (an abandoned-cart reminder stops).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext as _

from commerce.models import Cart, CartLine, Order
from customers import services as customers
from customers.errors import DomainError
from customers.models import ChannelKind, Customer, Interaction

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

# The role that may convert carts (commerce/migrations/0003_store_associate.py): an add-on
# group for support agents who work in a store.
STORE_ASSOCIATE = "Store associate"
CONVERT_PERMISSION = "commerce.add_order"


def order_id_for(cart_id: int) -> str:
    """The external id of the store order made from a cart: a cart converts once, so the id
    is also the idempotency key (a double submit, or two associates at once, make one order)."""
    return f"store-cart-{cart_id}"


@dataclass(frozen=True)
class CartVersion:
    """What the associate saw: the cart's last change, line count and value. Converting a cart
    that changed since (the customer added a line on the web meanwhile) is refused."""

    changed_at: str
    lines: int
    total: Decimal

    def encode(self) -> str:
        return f"{self.changed_at}|{self.lines}|{self.total}"

    @classmethod
    def of(cls, cart: Cart, lines: int, total: Decimal) -> CartVersion:
        return cls(cart.changed_at.isoformat(), lines, total.quantize(Decimal("0.01")))


def cart_value(lines: list[CartLine]) -> Decimal:
    return sum((line.total for line in lines), Decimal(0)).quantize(Decimal("0.01"))


def convert_in_store(
    customer: Customer,
    *,
    cart_id: int,
    version: str | None,
    agent: AbstractBaseUser | None,
) -> tuple[Order, bool]:
    """Place the cart ``cart_id`` of ``customer`` as an order on channel ``store``; returns
    (order, created). Idempotent per cart: once converted, the same request returns its order.

    Locks the customer, then the cart (the order every cart writer takes). Raises DomainError:
    ``merged`` (a tombstone), ``no_cart`` (not this customer's live cart), ``cart_closed``
    (ordered some other way, or merged into another cart), ``cart_changed`` (``version`` is
    not the cart's now), ``empty_cart``.
    """
    with transaction.atomic():
        person = Customer.objects.select_for_update(no_key=True).filter(pk=customer.pk).first()
        if person is None:
            raise DomainError("no_cart", _("This customer no longer exists."), status=404)
        if person.merged_into_id is not None:
            raise DomainError(
                "merged",
                _("This profile was merged; convert the cart on the one it was merged into."),
                status=409,
            )
        cart = Cart.objects.select_for_update().filter(pk=cart_id, customer=person).first()
        if cart is None:
            raise DomainError("no_cart", _("This customer has no such cart."), status=404)
        if cart.status != Cart.Status.ACTIVE:
            done = Order.objects.filter(external_id=order_id_for(cart.pk)).first()
            if done is not None:
                return done, False
            raise DomainError(
                "cart_closed",
                _("This cart was already ordered or merged into another; reload the page."),
                status=409,
            )
        lines = list(cart.lines.order_by("added_at", "pk"))
        if not lines:
            raise DomainError("empty_cart", _("The cart is empty: nothing to order."), status=422)
        total = cart_value(lines)
        if version is not None and version != CartVersion.of(cart, len(lines), total).encode():
            raise DomainError(
                "cart_changed",
                _("The cart changed since the page was opened; check it and convert again."),
                status=409,
            )
        external_id = order_id_for(cart.pk)
        customers.record_interaction(
            customer=person,
            type=Interaction.Type.ORDER,
            channel=ChannelKind.STORE,
            name="Order Completed",
            summary=f"Order Completed in store: {total} {cart.currency}".strip(),
            agent=agent,
            properties={
                "order_id": external_id,
                "currency": cart.currency,
                "subtotal": str(total),
                "total": str(total),
                "products": [
                    {
                        "sku": line.sku,
                        "name": line.name,
                        "quantity": line.quantity,
                        "price": str(line.price) if line.price is not None else None,
                    }
                    for line in lines
                ],
            },
        )
        # The commerce reactor placed it (or raised, undoing everything above).
        return Order.objects.get(external_id=external_id), True
