"""Write use-cases of commerce: products and stock, the live cart, orders, stock alerts.

E-commerce events (Segment's spec) reach these through ``commerce.reactors``; the REST API calls
them directly. Every function owns its transaction and is safe to call again with the same input.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from commerce.models import Cart, CartLine, Order, OrderLine, Product, Restock, StockAlert
from customers import reactors
from customers.errors import DomainError
from customers.models import Customer, Interaction, Source

logger = logging.getLogger(__name__)


def to_decimal(value: object) -> Decimal | None:
    """A money amount from JSON (number or string), or None when it is not one."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or abs(amount) >= Decimal("1e12"):
        return None
    return amount.quantize(Decimal("0.01"))


def to_quantity(value: object, default: int = 1) -> int:
    """A positive whole quantity from JSON, ``default`` when absent or nonsense (capped)."""
    if isinstance(value, bool):
        return default
    try:
        quantity = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return default
    return min(max(quantity, 0), 100_000)


def sku_of(item: Mapping[str, Any]) -> str:
    """The SKU of a Segment product object: ``sku``, else ``product_id``, else ``id``."""
    for key in ("sku", "product_id", "productId", "id"):
        value = item.get(key)
        if value not in (None, ""):
            return str(value).strip()[:100]
    return ""


@dataclass(frozen=True)
class LineInput:
    sku: str
    quantity: int
    name: str = ""
    price: Decimal | None = None

    @classmethod
    def from_event(cls, item: Mapping[str, Any]) -> LineInput:
        return cls(
            sku=sku_of(item),
            quantity=to_quantity(item.get("quantity"), 1),
            name=str(item.get("name") or "")[:300],
            price=to_decimal(item.get("price")),
        )


# --- Products ---------------------------------------------------------------------------------


def upsert_product(
    *,
    sku: str,
    name: str | None = None,
    url: str | None = None,
    image_url: str | None = None,
    price: Decimal | None = None,
    currency: str | None = None,
    stock_quantity: int | None = None,
    set_stock: bool = False,
) -> Product:
    """Create or update a product by SKU; a stock change from ≤0 to >0 records a Restock.

    Reads without a lock and writes only what changed, so a product view costs one query.
    """
    changes = {
        field: value
        for field, value in (
            ("name", name),
            ("url", url),
            ("image_url", image_url),
            ("price", price),
            ("currency", currency.upper()[:3] if currency else None),
        )
        if value not in (None, "")
    }
    product = Product.objects.filter(sku=sku).first()
    if product is None:
        try:
            with transaction.atomic():
                return Product.objects.create(
                    sku=sku, **changes, **({"stock_quantity": stock_quantity} if set_stock else {})
                )
        except IntegrityError:  # created by a concurrent request
            product = Product.objects.get(sku=sku)
    changes = {k: v for k, v in changes.items() if getattr(product, k) != v}
    if not changes and (not set_stock or product.stock_quantity == stock_quantity):
        return product
    with transaction.atomic(savepoint=False):
        product = Product.objects.select_for_update().get(pk=product.pk)
        if set_stock and product.stock_quantity != stock_quantity:
            previous = product.stock_quantity
            changes["stock_quantity"] = stock_quantity
            if previous is not None and previous <= 0 and (stock_quantity or 0) > 0:
                Restock.objects.create(
                    product=product, previous_quantity=previous, quantity=stock_quantity or 0
                )
        for field, value in changes.items():
            setattr(product, field, value)
        product.save(update_fields=[*changes, "updated_at"])
        return product


def product_from_event(item: Mapping[str, Any]) -> None:
    """Upsert the product an e-commerce event describes (never its stock). Within one tracking
    batch, a SKU already seen with the same details is not looked up again."""
    sku = sku_of(item)
    if not sku:
        return
    details = {
        "name": str(item.get("name") or "")[:300] or None,
        "url": _url(item.get("url")),
        "image_url": _url(item.get("image_url") or item.get("imageUrl")),
        "price": to_decimal(item.get("price")),
        "currency": str(item.get("currency") or "")[:3] or None,
    }
    memo = reactors.scope_memo("commerce.products")
    known = memo.get(sku)
    if known is not None and all(
        value in (None, "") or getattr(known, field) == value for field, value in details.items()
    ):
        return  # nothing new: no write, no lock
    memo[sku] = upsert_product(sku=sku, **details)


def cached_product(sku: str) -> Product | None:
    """The product of a SKU, from this batch's memo when it was read or written already."""
    memo = reactors.scope_memo("commerce.products")
    if sku not in memo:
        memo[sku] = Product.objects.filter(sku=sku).first()
    return memo[sku]


def _url(value: object) -> str | None:
    text = str(value or "")
    return text[:1000] if text.startswith(("http://", "https://")) else None


def prepare_products(skus: Iterable[str]) -> None:
    """Read the products of these SKUs in one query into the batch memo."""
    memo = reactors.scope_memo("commerce.products")
    missing = sorted({sku for sku in skus if sku and sku not in memo})
    if not missing:
        return
    found = Product.objects.in_bulk(missing, field_name="sku")
    for sku in missing:
        memo[sku] = found.get(sku)


def prepare_carts(customer_ids: Iterable[int]) -> None:
    """Read the live carts of these customers in one query into the chunk memo."""
    memo = reactors.chunk_memo("commerce.carts")
    ids = {pk for pk in customer_ids if pk not in memo}
    if not ids:
        return
    carts = {
        cart.customer_id: cart
        for cart in Cart.objects.filter(customer_id__in=ids, status=Cart.Status.ACTIVE)
    }
    for pk in ids:
        memo[pk] = carts.get(pk)


# --- The live cart -------------------------------------------------------------------------------


def active_cart(customer: Customer, *, create: bool = True) -> Cart | None:
    """The customer's one active cart (created on demand); race-safe via the unique constraint."""
    memo = reactors.chunk_memo("commerce.carts")
    if customer.pk in memo:
        cart = memo[customer.pk]
    else:
        cart = Cart.objects.filter(customer=customer, status=Cart.Status.ACTIVE).first()
    if cart is None and create:
        try:
            with transaction.atomic():
                cart = Cart.objects.create(customer=customer)
        except IntegrityError:
            cart = Cart.objects.get(customer=customer, status=Cart.Status.ACTIVE)
    memo[customer.pk] = cart
    return cart


def add_to_cart(
    customer: Customer, line: LineInput, *, channel: str, at: datetime | None = None
) -> Cart:
    """Add ``line.quantity`` of a SKU to the live cart; the line keeps its first channel."""
    at = at or timezone.now()
    with transaction.atomic(savepoint=False):
        cart = active_cart(customer)
        assert cart is not None
        product = cached_product(line.sku)
        price = line.price if line.price is not None else (product.price if product else None)
        updated = CartLine.objects.filter(cart=cart, sku=line.sku).update(
            quantity=F("quantity") + line.quantity
        )
        if not updated:
            CartLine.objects.create(
                cart=cart,
                product=product,
                sku=line.sku,
                name=line.name or (product.name if product else ""),
                price=price,
                quantity=line.quantity,
                channel=channel,
                added_at=at,
            )
        Cart.objects.filter(pk=cart.pk).update(changed_at=at)
        return cart


def remove_from_cart(
    customer: Customer, line: LineInput, *, at: datetime | None = None
) -> Cart | None:
    """Take ``line.quantity`` of a SKU out of the live cart (the whole line if it drops to 0)."""
    at = at or timezone.now()
    with transaction.atomic(savepoint=False):
        cart = active_cart(customer, create=False)
        if cart is None:
            return None
        row = CartLine.objects.select_for_update().filter(cart=cart, sku=line.sku).first()
        if row is None:
            return cart
        if row.quantity <= line.quantity:
            row.delete()
        else:
            CartLine.objects.filter(pk=row.pk).update(quantity=F("quantity") - line.quantity)
        Cart.objects.filter(pk=cart.pk).update(changed_at=at)
        return cart


def replace_cart(
    customer: Customer,
    lines: Sequence[LineInput],
    *,
    channel: str,
    currency: str = "",
    at: datetime | None = None,
) -> Cart:
    """Make the live cart hold exactly these lines (PUT semantics); same SKUs are summed."""
    at = at or timezone.now()
    wanted: dict[str, LineInput] = {}
    for line in lines:
        if line.sku in wanted:
            prior = wanted[line.sku]
            line = LineInput(line.sku, prior.quantity + line.quantity, line.name, line.price)
        wanted[line.sku] = line
    with transaction.atomic(savepoint=False):
        cart = active_cart(customer)
        assert cart is not None
        existing = {row.sku: row for row in cart.lines.select_for_update()}
        CartLine.objects.filter(cart=cart).exclude(sku__in=list(wanted)).delete()
        products = Product.objects.in_bulk(list(wanted), field_name="sku")
        for sku, line in wanted.items():
            product = products.get(sku)
            price = line.price if line.price is not None else (product.price if product else None)
            if line.quantity <= 0:
                CartLine.objects.filter(cart=cart, sku=sku).delete()
            elif sku in existing:
                CartLine.objects.filter(pk=existing[sku].pk).update(
                    quantity=line.quantity, price=price, name=line.name or existing[sku].name
                )
            else:
                CartLine.objects.create(
                    cart=cart,
                    product=product,
                    sku=sku,
                    name=line.name or (product.name if product else ""),
                    price=price,
                    quantity=line.quantity,
                    channel=channel,
                    added_at=at,
                )
        Cart.objects.filter(pk=cart.pk).update(
            changed_at=at, currency=currency.upper()[:3] or cart.currency
        )
        cart.refresh_from_db()
        return cart


def start_checkout(customer: Customer, *, at: datetime | None = None) -> Cart | None:
    """Note that the customer began checking out their live cart."""
    cart = active_cart(customer, create=False)
    if cart is not None:
        Cart.objects.filter(pk=cart.pk).update(checkout_started_at=at or timezone.now())
    return cart


# --- Orders ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderInput:
    """An order as a storefront describes it (the REST API body, an ``Order Completed``)."""

    external_id: str
    lines: Sequence[LineInput]
    channel: str
    source: Source | None = None
    currency: str = ""
    total: Decimal | None = None
    subtotal: Decimal | None = None
    discount: Decimal | None = None
    tax: Decimal | None = None
    shipping: Decimal | None = None
    coupon: str = ""
    placed_at: datetime | None = None

    @classmethod
    def from_event(cls, interaction: Interaction) -> OrderInput:
        """The order an ``Order Completed`` event describes (Segment's e-commerce spec)."""
        props = interaction.properties
        external_id = next(
            (str(props[key]) for key in ("order_id", "orderId", "checkout_id") if props.get(key)),
            f"event:{interaction.pk}",
        )
        return cls(
            external_id=external_id[:100],
            lines=[LineInput.from_event(item) for item in products_of(props)],
            channel=interaction.channel,
            source=interaction.source,
            currency=str(props.get("currency") or ""),
            total=to_decimal(props.get("total", props.get("revenue"))),
            subtotal=to_decimal(props.get("subtotal")),
            discount=to_decimal(props.get("discount")),
            tax=to_decimal(props.get("tax")),
            shipping=to_decimal(props.get("shipping")),
            coupon=str(props.get("coupon") or ""),
            placed_at=interaction.occurred_at,
        )

    def build(self, customer_id: int, products: Mapping[str, Product | None]) -> Order:
        """The unsaved order (its lines in ``order.new_lines``); unknown SKUs keep no product."""
        lines = [line for line in self.lines if line.sku]
        computed = sum(((line.price or Decimal(0)) * line.quantity for line in lines), Decimal(0))
        subtotal = self.subtotal if self.subtotal is not None else computed
        discount, tax = self.discount or Decimal(0), self.tax or Decimal(0)
        shipping = self.shipping or Decimal(0)
        total = self.total if self.total is not None else subtotal - discount + tax + shipping
        order = Order(
            customer_id=customer_id,
            external_id=self.external_id,
            channel=self.channel,
            source=self.source,
            currency=self.currency.upper()[:3],
            subtotal=subtotal,
            discount=discount,
            tax=tax,
            shipping=shipping,
            total=total,
            coupon=self.coupon[:100],
            placed_at=self.placed_at or timezone.now(),
        )
        order.new_lines = [  # type: ignore[attr-defined]
            OrderLine(
                product=products.get(line.sku),
                sku=line.sku,
                name=line.name or getattr(products.get(line.sku), "name", ""),
                price=line.price or Decimal(0),
                quantity=line.quantity or 1,
            )
            for line in lines
        ]
        return order


def products_of(properties: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The product objects of an e-commerce event: its ``products`` list, or itself."""
    items = properties.get("products")
    if isinstance(items, list):
        return [item for item in items if isinstance(item, Mapping)]
    return [properties] if sku_of(properties) else []


def save_order_lines(orders: Sequence[Order]) -> None:
    """Insert the lines of orders just created (``order.new_lines``), in one statement."""
    rows = []
    for order in orders:
        for line in order.new_lines:  # type: ignore[attr-defined]
            line.order = order
            rows.append(line)
    OrderLine.objects.bulk_create(rows)


def place_order(customer: Customer, order_input: OrderInput) -> tuple[Order, bool]:
    """Create an order once per external id; converts the live cart and updates the customer's
    order aggregates. Unknown SKUs are kept as lines without a product. Returns (order, created).
    """
    with transaction.atomic(savepoint=False):
        existing = Order.objects.filter(external_id=order_input.external_id).first()
        if existing is not None:
            return existing, False
        skus = [line.sku for line in order_input.lines if line.sku]
        order = order_input.build(customer.pk, Product.objects.in_bulk(skus, field_name="sku"))
        try:
            with transaction.atomic():
                order.save(force_insert=True)
        except IntegrityError:  # the same order arrived on another request a moment ago
            return Order.objects.get(external_id=order_input.external_id), False
        save_order_lines([order])
        Cart.objects.filter(customer=customer, status=Cart.Status.ACTIVE).update(
            status=Cart.Status.CONVERTED, converted_at=order.placed_at, order=order
        )
        reactors.chunk_memo("commerce.carts").pop(customer.pk, None)
        person = Customer.objects.select_for_update().get(pk=customer.pk)
        count_orders(person, [order])
        person.save(update_fields=AGGREGATE_FIELDS)
        return order, True


AGGREGATE_FIELDS = [
    "order_count",
    "total_spent",
    "first_order_at",
    "last_order_at",
    "stage",
    "updated_at",
]


def count_orders(customer: Customer, orders: Sequence[Order]) -> None:
    """Add new orders to the customer's aggregates and move the lifecycle stage forward
    (purchase at the first order, retention from the second; never backwards). Unsaved."""
    for order in orders:
        customer.order_count += 1
        customer.total_spent += order.total
        customer.first_order_at = min(filter(None, [customer.first_order_at, order.placed_at]))
        customer.last_order_at = max(filter(None, [customer.last_order_at, order.placed_at]))
    stages = [choice for choice, _ in Customer.Stage.choices]
    target = Customer.Stage.RETENTION if customer.order_count >= 2 else Customer.Stage.PURCHASE
    if customer.order_count and stages.index(customer.stage) < stages.index(target):
        customer.stage = target
    customer.updated_at = timezone.now()


# --- Back-in-stock alerts -------------------------------------------------------------------------

ALERT_ADDRESS_KIND = {"email": "email", "sms": "phone", "whatsapp": "phone", "push": None}
CONFIRM_SALT = "commerce.stock-alert"


def request_stock_alert(customer: Customer, *, product: Product, channel: str) -> StockAlert:
    """Subscribe the customer to "back in stock" for a product on a channel (idempotent).

    Double opt-in: unless the channel's address is verified, the alert waits (``pending``)
    for the customer to follow the confirmation link sent to that address, so nobody can
    subscribe somebody else. A phone must be verified already (SMS confirmation arrives with
    the outbox). Raises DomainError("no_address" / "unverified_address").
    """
    from customers.models import Identity

    kind = ALERT_ADDRESS_KIND.get(channel)
    with transaction.atomic():
        live = StockAlert.objects.filter(
            customer=customer,
            product=product,
            status__in=[StockAlert.Status.PENDING, StockAlert.Status.ACTIVE],
        ).first()
        if live is not None:
            return live
        identity = None
        if kind is not None:
            identity = (
                Identity.objects.filter(customer=customer, kind=kind)
                .order_by("-verified", "created_at")
                .first()
            )
            if identity is None:
                raise DomainError(
                    "no_address",
                    _("This customer has no %(kind)s to notify.") % {"kind": kind},
                    status=422,
                )
            if not identity.verified and kind != "email":
                raise DomainError(
                    "unverified_address",
                    _("Verify this phone number before subscribing it to alerts."),
                    status=422,
                )
        status = (
            StockAlert.Status.PENDING
            if identity is not None and not identity.verified
            else StockAlert.Status.ACTIVE
        )
        try:
            with transaction.atomic():
                alert = StockAlert.objects.create(
                    customer=customer,
                    product=product,
                    channel=channel,
                    status=status,
                    address=identity.value if identity else "",
                    confirmed_at=None if status == StockAlert.Status.PENDING else timezone.now(),
                )
        except IntegrityError:
            return StockAlert.objects.get(
                customer=customer, product=product, status__in=["pending", "active"]
            )
        if status == StockAlert.Status.PENDING:
            from commerce.tasks import send_alert_confirmation

            send_alert_confirmation.delay_on_commit(alert.pk)
        return alert


def confirmation_token(alert: StockAlert) -> str:
    from django.core import signing

    return signing.dumps({"alert": alert.pk, "address": alert.address}, salt=CONFIRM_SALT)


def confirm_stock_alert(token: str) -> StockAlert:
    """Activate the alert a confirmation link names and mark its address verified (the person
    proved they read it). Links live 7 days. Raises DomainError("invalid_link")."""
    from django.core import signing

    from customers.models import Identity

    try:
        data = signing.loads(token, salt=CONFIRM_SALT, max_age=7 * 24 * 3600)
    except signing.BadSignature as error:
        raise DomainError(
            "invalid_link", _("This confirmation link is invalid or expired.")
        ) from error
    with transaction.atomic():
        alert = StockAlert.objects.select_for_update().filter(pk=data.get("alert")).first()
        if alert is None or alert.address != data.get("address"):
            raise DomainError("invalid_link", _("This confirmation link is invalid or expired."))
        if alert.status == StockAlert.Status.PENDING:
            alert.status, alert.confirmed_at = StockAlert.Status.ACTIVE, timezone.now()
            alert.save(update_fields=["status", "confirmed_at"])
            Identity.objects.filter(
                customer=alert.customer_id,
                kind=ALERT_ADDRESS_KIND.get(alert.channel) or "",
                value=alert.address,
            ).update(verified=True)
        return alert
