"""Cart and product events of a whole chunk, applied with a few statements instead of a few per
event. Used by the tracking batch path through the commerce reactor's ``prepare``.

The chunk never holds an ``Order Completed`` (a barrier: it forms a chunk of its own), so every
event here only moves cart lines and product details; they are simulated in message order on
rows read (and locked) once, and the differences written at the end. The result is the same as
applying ``commerce.reactors`` one event at a time — a hypothesis test checks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from commerce import services
from commerce.models import Cart, CartLine
from commerce.services import LineInput
from customers import reactors
from customers.models import Interaction

PRODUCT_EVENTS = {"Product Viewed", "Product Clicked"}
CART_EVENTS = {"Product Added", "Product Removed", "Cart Viewed", "Checkout Started"}
HANDLED = "commerce.handled"


@dataclass
class _CartState:
    cart: Cart
    lines: dict[str, CartLine] = field(default_factory=dict)
    dirty: bool = False


def apply(interactions: Sequence[Interaction]) -> None:
    """Apply the chunk's product and cart events; mark them handled for the per-event path."""
    events = [i for i in interactions if i.name in PRODUCT_EVENTS | CART_EVENTS]
    if not events:
        return
    carts = _read_carts({i.customer_id for i in events if i.name in CART_EVENTS})
    deleted: list[int] = []
    stamped: list[Interaction] = []
    for interaction in events:
        props = interaction.properties
        if interaction.name in PRODUCT_EVENTS:
            services.product_from_event(props)
            continue
        state = carts.get(interaction.customer_id)
        sku = services.sku_of(props)
        if interaction.name == "Product Added":
            if not sku:
                continue
            services.product_from_event(props)
            if state is None:
                state = carts[interaction.customer_id] = _CartState(
                    Cart(customer_id=interaction.customer_id), dirty=True
                )
            _add(state, LineInput.from_event(props), interaction)
        elif interaction.name == "Product Removed":
            if not sku or state is None:
                continue
            line = state.lines.get(sku)
            if line is not None:
                quantity = LineInput.from_event(props).quantity
                if line.quantity <= quantity:
                    del state.lines[sku]
                    if line.pk:
                        deleted.append(line.pk)
                else:
                    line.quantity -= quantity
                    line._crm_changed = True  # type: ignore[attr-defined]
                state.cart.changed_at, state.dirty = interaction.occurred_at, True
        elif interaction.name == "Checkout Started" and state is not None:
            state.cart.checkout_started_at, state.dirty = interaction.occurred_at, True
        if state is not None:
            stamped.append(interaction)
            interaction._crm_cart = state.cart  # type: ignore[attr-defined]
    _write(carts, deleted, stamped)
    reactors.chunk_memo(HANDLED).update(dict.fromkeys(i.pk for i in events))


def handled(interaction: Interaction) -> bool:
    """Whether this chunk's ``apply`` already did what the event asks."""
    return interaction.pk in reactors.chunk_memo(HANDLED)


def _read_carts(customer_ids: set[int]) -> dict[int, _CartState]:
    if not customer_ids:
        return {}
    # Locked in primary-key order, as every path that changes a cart does.
    carts = list(
        Cart.objects.select_for_update()
        .filter(customer_id__in=customer_ids, status=Cart.Status.ACTIVE)
        .order_by("pk")
    )
    states = {cart.customer_id: _CartState(cart) for cart in carts}
    by_cart = {cart.pk: states[cart.customer_id] for cart in carts}
    # Lines are locked too: their new quantities are written as values, not increments.
    for line in CartLine.objects.select_for_update().filter(cart__in=carts).order_by("pk"):
        by_cart[line.cart_id].lines[line.sku] = line
    return states


def _add(state: _CartState, line: LineInput, interaction: Interaction) -> None:
    existing = state.lines.get(line.sku)
    if existing is not None:
        existing.quantity += line.quantity
        existing._crm_changed = True  # type: ignore[attr-defined]
    else:
        product = services.cached_product(line.sku)
        state.lines[line.sku] = CartLine(
            product=product,
            sku=line.sku,
            name=line.name or (product.name if product else ""),
            price=line.price if line.price is not None else (product.price if product else None),
            quantity=line.quantity,
            channel=interaction.channel,
            added_at=interaction.occurred_at,
        )
    state.cart.changed_at, state.dirty = interaction.occurred_at, True


def _write(carts: dict[int, _CartState], deleted: list[int], stamped: list[Interaction]) -> None:
    new = [state.cart for state in carts.values() if state.cart.pk is None]
    if new:
        Cart.objects.bulk_create(new)
    touched = [s.cart for s in carts.values() if s.dirty and s.cart not in new]
    if touched:
        Cart.objects.bulk_update(touched, ["changed_at", "checkout_started_at"])
    if deleted:
        CartLine.objects.filter(pk__in=deleted).delete()
    fresh, changed = [], []
    for state in carts.values():
        for line in state.lines.values():
            if line.pk is None:
                line.cart = state.cart
                fresh.append(line)
            elif getattr(line, "_crm_changed", False):
                changed.append(line)
    if fresh:
        CartLine.objects.bulk_create(fresh)
    if changed:
        CartLine.objects.bulk_update(changed, ["quantity"])
    rows = []
    for interaction in stamped:
        cart_id = interaction._crm_cart.pk  # type: ignore[attr-defined]
        if interaction.properties.get("crm_cart_id") != cart_id:
            interaction.properties = {**interaction.properties, "crm_cart_id": cart_id}
            rows.append(interaction)
    if rows:
        Interaction.objects.bulk_update(rows, ["properties"])
    # Carts made here are the live carts of the rest of the chunk (and of its order events).
    memo = reactors.chunk_memo("commerce.carts")
    for customer_id, state in carts.items():
        memo[customer_id] = state.cart
