"""Product, cart and order events of a whole chunk, applied with a few statements instead of a
few per event. Used by the tracking batch path through the commerce reactor's ``prepare``.

The events are simulated in message order on rows read (and locked) once — live carts and their
lines, the orders already known by external id — and the differences written at the end: new
orders and their lines, converted carts, new carts, changed lines, the customers' order
aggregates. The result is the same as applying ``commerce.reactors`` one event at a time; a
hypothesis test checks it (tests/channels/test_batch_equivalence.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from commerce import services
from commerce.models import Cart, CartLine, Order
from commerce.services import LineInput, OrderInput
from customers import reactors
from customers.bulk import update_rows
from customers.models import Customer, Interaction

PRODUCT_EVENTS = {"Product Viewed", "Product Clicked"}
CART_EVENTS = {"Product Added", "Product Removed", "Cart Viewed", "Checkout Started"}
ORDER_EVENT = "Order Completed"
HANDLED = "commerce.handled"


@dataclass
class _CartState:
    cart: Cart
    lines: dict[str, CartLine] = field(default_factory=dict)
    dirty: bool = False


@dataclass
class _Chunk:
    """What the simulation changed, to be written at the end."""

    carts: dict[int, _CartState]  # the live cart of each customer, as of the current event
    retired: list[_CartState] = field(default_factory=list)  # converted in this chunk
    deleted: list[int] = field(default_factory=list)  # cart line ids
    stamped: list[Interaction] = field(default_factory=list)
    orders: dict[str, Order] = field(default_factory=dict)  # by external id, old and new
    new_orders: list[Order] = field(default_factory=list)


def apply(interactions: Sequence[Interaction]) -> None:
    """Apply the chunk's product, cart and order events; mark them handled for the per-event
    path."""
    events = [i for i in interactions if i.name in PRODUCT_EVENTS | CART_EVENTS | {ORDER_EVENT}]
    if not events:
        return
    orders = [i for i in events if i.name == ORDER_EVENT]
    inputs = {i.pk: OrderInput.from_event(i) for i in orders}
    chunk = _Chunk(
        carts=_read_carts({i.customer_id for i in events if i.name not in PRODUCT_EVENTS}),
        orders=Order.objects.in_bulk(
            sorted({o.external_id for o in inputs.values()}), field_name="external_id"
        ),
    )
    for interaction in events:
        props = interaction.properties
        if interaction.name in PRODUCT_EVENTS:
            services.product_from_event(props)
            continue
        state = chunk.carts.get(interaction.customer_id)
        if interaction.name == ORDER_EVENT:
            _order(chunk, interaction, inputs[interaction.pk], state)
            continue
        sku = services.sku_of(props)
        if interaction.name == "Product Added":
            if not sku:
                continue
            services.product_from_event(props)
            if state is None:
                state = chunk.carts[interaction.customer_id] = _CartState(
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
                        chunk.deleted.append(line.pk)
                else:
                    line.quantity -= quantity
                    line._crm_changed = True  # type: ignore[attr-defined]
                state.cart.changed_at, state.dirty = interaction.occurred_at, True
        elif interaction.name == "Checkout Started" and state is not None:
            state.cart.checkout_started_at, state.dirty = interaction.occurred_at, True
        if state is not None:
            chunk.stamped.append(interaction)
            interaction._crm_cart = state.cart  # type: ignore[attr-defined]
    _write(chunk)
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


def _order(
    chunk: _Chunk, interaction: Interaction, order_input: OrderInput, state: _CartState | None
) -> None:
    """As ``services.place_order``: a known external id changes nothing; a new order converts
    the live cart (the next ``Product Added`` starts a new one)."""
    interaction._crm_cart = state.cart if state is not None else None  # type: ignore[attr-defined]
    order = chunk.orders.get(order_input.external_id)
    if order is None:
        products = {line.sku: services.cached_product(line.sku) for line in order_input.lines}
        order = order_input.build(interaction.customer_id, products)
        chunk.orders[order.external_id] = order
        chunk.new_orders.append(order)
        if state is not None:
            state.cart.status = Cart.Status.CONVERTED
            state.cart.converted_at = order.placed_at
            state.cart._crm_order = order  # type: ignore[attr-defined]
            state.dirty = True
            chunk.retired.append(state)
            del chunk.carts[interaction.customer_id]
    interaction._crm_order = order  # type: ignore[attr-defined]
    chunk.stamped.append(interaction)


def _write(chunk: _Chunk) -> None:
    if chunk.new_orders:
        # An external id taken meanwhile by another request raises here; the batch path then
        # replays the chunk one event at a time, where place_order sees that order.
        Order.objects.bulk_create(chunk.new_orders)
        services.save_order_lines(chunk.new_orders)
        _count_orders(chunk.new_orders)
    states = [*chunk.retired, *chunk.carts.values()]
    for state in chunk.retired:
        state.cart.order = state.cart._crm_order  # type: ignore[attr-defined]
    # Converted carts are written before new ones are made: one live cart per customer.
    old = [s.cart for s in states if s.dirty and s.cart.pk is not None]
    if old:
        update_rows(old, ["changed_at", "checkout_started_at", "status", "converted_at", "order"])
    new = [s.cart for s in states if s.cart.pk is None]
    if new:
        Cart.objects.bulk_create(new)
    if chunk.deleted:
        CartLine.objects.filter(pk__in=chunk.deleted).delete()
    fresh, changed = [], []
    for state in states:
        for line in state.lines.values():
            if line.pk is None:
                line.cart = state.cart
                fresh.append(line)
            elif getattr(line, "_crm_changed", False):
                changed.append(line)
    if fresh:
        CartLine.objects.bulk_create(fresh)
    update_rows(changed, ["quantity"])
    _stamp(chunk.stamped)
    # The carts live at the end of the chunk, for the per-event reactors that come after.
    memo = reactors.chunk_memo("commerce.carts")
    for state in chunk.retired:
        memo[state.cart.customer_id] = None
    for customer_id, state in chunk.carts.items():
        memo[customer_id] = state.cart


def _count_orders(orders: Sequence[Order]) -> None:
    by_customer: dict[int, list[Order]] = {}
    for order in orders:
        by_customer.setdefault(order.customer_id, []).append(order)
    people = list(Customer.objects.select_for_update().filter(pk__in=by_customer).order_by("pk"))
    for person in people:
        services.count_orders(person, by_customer[person.pk])
    update_rows(people, services.AGGREGATE_FIELDS)


def _stamp(stamped: Sequence[Interaction]) -> None:
    """Note on each event the cart (and order) it touched, so the timeline can show them."""
    rows = []
    for interaction in stamped:
        extra = {}
        cart = getattr(interaction, "_crm_cart", None)
        if cart is not None:
            extra["crm_cart_id"] = cart.pk
        order = getattr(interaction, "_crm_order", None)
        if order is not None:
            extra["crm_order_id"] = order.pk
        if any(interaction.properties.get(key) != value for key, value in extra.items()):
            interaction.properties = {**interaction.properties, **extra}
            rows.append(interaction)
    update_rows(rows, ["properties"])
