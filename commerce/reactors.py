"""Segment e-commerce spec events keep products, the live cart and orders up to date.

Registered on the customers event log in CommerceConfig.ready(), before journeys, so a journey
reacting to the same event already sees the converted cart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from commerce import chunks, services
from commerce.services import LineInput
from customers.models import Interaction


def _note_cart(interaction: Interaction, cart_id: int | None) -> None:
    """Stamp our cart id on the event, so the timeline shows which cart it touched."""
    if cart_id is not None and interaction.properties.get("crm_cart_id") != cart_id:
        interaction.properties = {**interaction.properties, "crm_cart_id": cart_id}
        Interaction.objects.filter(pk=interaction.pk).update(properties=interaction.properties)


def product_viewed(interaction: Interaction) -> None:
    if chunks.handled(interaction):
        return
    services.product_from_event(interaction.properties)


def product_added(interaction: Interaction) -> None:
    if chunks.handled(interaction):
        return
    props = interaction.properties
    if not services.sku_of(props):
        return
    services.product_from_event(props)
    cart = services.add_to_cart(
        interaction.customer,
        LineInput.from_event(props),
        channel=interaction.channel,
        at=interaction.occurred_at,
    )
    _note_cart(interaction, cart.pk)


def product_removed(interaction: Interaction) -> None:
    if chunks.handled(interaction):
        return
    props = interaction.properties
    if not services.sku_of(props):
        return
    cart = services.remove_from_cart(
        interaction.customer, LineInput.from_event(props), at=interaction.occurred_at
    )
    _note_cart(interaction, cart.pk if cart else None)


def cart_viewed(interaction: Interaction) -> None:
    if chunks.handled(interaction):
        return
    cart = services.active_cart(interaction.customer, create=False)
    _note_cart(interaction, cart.pk if cart else None)


def checkout_started(interaction: Interaction) -> None:
    if chunks.handled(interaction):
        return
    cart = services.start_checkout(interaction.customer, at=interaction.occurred_at)
    _note_cart(interaction, cart.pk if cart else None)


def order_completed(interaction: Interaction) -> None:
    if chunks.handled(interaction):
        return
    cart = services.active_cart(interaction.customer, create=False)
    order, _ = services.place_order(
        interaction.customer, services.OrderInput.from_event(interaction)
    )
    interaction.properties = {**interaction.properties, "crm_order_id": order.pk}
    if cart is not None:
        interaction.properties["crm_cart_id"] = cart.pk
    Interaction.objects.filter(pk=interaction.pk).update(properties=interaction.properties)


HANDLERS: dict[str, Callable[[Interaction], None]] = {
    "Product Viewed": product_viewed,
    "Product Clicked": product_viewed,
    "Product Added": product_added,
    "Product Removed": product_removed,
    "Cart Viewed": cart_viewed,
    "Checkout Started": checkout_started,
    "Order Completed": order_completed,
}


CART_EVENTS = {
    "Product Added",
    "Product Removed",
    "Cart Viewed",
    "Checkout Started",
    "Order Completed",
}


def prepare(interactions: Sequence[Interaction]) -> None:
    """Read the products and live carts a chunk of events needs, in two queries, then apply
    its product, cart and order events in bulk."""
    services.prepare_products(
        services.sku_of(item) for i in interactions for item in services.products_of(i.properties)
    )
    chunks.apply(interactions)
    services.prepare_carts(i.customer_id for i in interactions if i.name in CART_EVENTS)


def on_interaction(interaction: Interaction) -> None:
    """The commerce reactor: route an e-commerce event to its handler; ignore everything else."""
    if interaction.type not in (Interaction.Type.TRACK, Interaction.Type.ORDER):
        return
    handler = HANDLERS.get(interaction.name)
    if handler is not None:
        handler(interaction)
