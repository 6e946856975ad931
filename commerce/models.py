"""Products with stock, the one live cart per customer, orders and back-in-stock alerts."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import ChannelKind, Customer, Source


class Product(models.Model):
    """A sellable item, keyed by SKU; its stock is what storefronts last told us."""

    sku = models.CharField(_("SKU"), max_length=100, unique=True)
    name = models.CharField(_("name"), max_length=300, blank=True)
    url = models.URLField(_("URL"), max_length=1000, blank=True)
    image_url = models.URLField(_("image URL"), max_length=1000, blank=True)
    price = models.DecimalField(_("price"), max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    stock_quantity = models.IntegerField(_("stock"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.name or self.sku} ({self.sku})"

    @property
    def in_stock(self) -> bool:
        return self.stock_quantity is None or self.stock_quantity > 0


class Restock(models.Model):
    """A product's stock went from zero (or less) to more; the back-in-stock journey reacts."""

    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="restocks"
    )
    previous_quantity = models.IntegerField(_("previous stock"))
    quantity = models.IntegerField(_("new stock"))
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("restock")
        verbose_name_plural = _("restocks")
        ordering = ["-occurred_at", "-pk"]
        indexes = [
            # Used by the back-in-stock sweep: only unprocessed restocks.
            models.Index(
                fields=["occurred_at"],
                condition=Q(processed_at__isnull=True),
                name="commerce_restock_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.previous_quantity} → {self.quantity}"


class Cart(models.Model):
    """A customer's cart; at most one is active, shared by every channel they shop on."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        CONVERTED = "converted", _("Converted")
        MERGED = "merged", _("Merged into another cart")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="carts"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE
    )
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # Last time a line was added, removed or changed: abandoned-cart timing starts here.
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)
    checkout_started_at = models.DateTimeField(_("checkout started"), null=True, blank=True)
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True)
    order = models.ForeignKey(
        "Order",
        verbose_name=_("order"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("cart")
        verbose_name_plural = _("carts")
        ordering = ["-changed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(status="active"),
                name="commerce_one_active_cart",
            )
        ]
        # Used by insights.selectors.conversion(): carts started in a period.
        indexes = [models.Index(fields=["created_at"], name="commerce_cart_created")]

    def __str__(self) -> str:
        return str(_("Cart %(id)s") % {"id": self.pk})


class CartLine(models.Model):
    """One SKU in a cart, remembering the channel it was put there on."""

    cart = models.ForeignKey(
        Cart, verbose_name=_("cart"), on_delete=models.CASCADE, related_name="lines"
    )
    product = models.ForeignKey(
        Product, verbose_name=_("product"), null=True, blank=True, on_delete=models.SET_NULL
    )
    sku = models.CharField(_("SKU"), max_length=100)
    name = models.CharField(_("name"), max_length=300, blank=True)
    price = models.DecimalField(_("price"), max_digits=14, decimal_places=2, null=True, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    channel = models.CharField(_("channel"), max_length=20, choices=ChannelKind.choices)
    added_at = models.DateTimeField(_("added at"), default=timezone.now)

    class Meta:
        verbose_name = _("cart line")
        verbose_name_plural = _("cart lines")
        ordering = ["added_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "sku"], name="commerce_cart_line_sku")
        ]
        indexes = [
            # A cart's first line and its channel (the insights dashboard's conversion by the
            # channel a cart was started on), read from the index alone.
            models.Index(
                fields=["cart", "added_at", "id"],
                include=["channel"],
                name="commerce_cartline_first",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"

    @property
    def total(self) -> Decimal:
        return (self.price or Decimal(0)) * self.quantity


class Order(models.Model):
    """A placed order from any channel; ``external_id`` makes creating it idempotent."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="orders"
    )
    external_id = models.CharField(_("order id"), max_length=100, unique=True)
    channel = models.CharField(_("channel"), max_length=20, choices=ChannelKind.choices)
    source = models.ForeignKey(
        Source, verbose_name=_("source"), null=True, blank=True, on_delete=models.SET_NULL
    )
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    subtotal = models.DecimalField(_("subtotal"), max_digits=14, decimal_places=2, default=0)
    discount = models.DecimalField(_("discount"), max_digits=14, decimal_places=2, default=0)
    tax = models.DecimalField(_("tax"), max_digits=14, decimal_places=2, default=0)
    shipping = models.DecimalField(_("shipping"), max_digits=14, decimal_places=2, default=0)
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2, default=0)
    coupon = models.CharField(_("coupon"), max_length=100, blank=True)
    placed_at = models.DateTimeField(_("placed at"), default=timezone.now)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-placed_at", "-pk"]
        indexes = [
            models.Index(fields=["customer", "-placed_at"], name="commerce_orders_recent"),
            # Used by insights.selectors: the orders placed in a period.
            models.Index(fields=["placed_at"], name="commerce_order_placed"),
        ]

    def __str__(self) -> str:
        return self.external_id


class OrderLine(models.Model):
    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="lines"
    )
    product = models.ForeignKey(
        Product, verbose_name=_("product"), null=True, blank=True, on_delete=models.SET_NULL
    )
    sku = models.CharField(_("SKU"), max_length=100)
    name = models.CharField(_("name"), max_length=300, blank=True)
    price = models.DecimalField(_("price"), max_digits=14, decimal_places=2, default=0)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"


class StockAlert(models.Model):
    """'Notify me when it is back': one live alert per customer and product."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for address confirmation")
        ACTIVE = "active", _("Active")
        NOTIFIED = "notified", _("Notified")
        CANCELLED = "cancelled", _("Cancelled")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="stock_alerts"
    )
    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="alerts"
    )
    channel = models.CharField(_("preferred channel"), max_length=20, choices=ChannelKind.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    address = models.CharField(_("address"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    notified_at = models.DateTimeField(_("notified at"), null=True, blank=True)

    class Meta:
        verbose_name = _("stock alert")
        verbose_name_plural = _("stock alerts")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "product"],
                condition=Q(status__in=["pending", "active"]),
                name="commerce_one_live_alert",
            )
        ]
        indexes = [
            # Used by the back-in-stock sweep: live alerts of a restocked product.
            models.Index(
                fields=["product", "created_at"],
                condition=Q(status="active"),
                name="commerce_alerts_waiting",
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} → {self.product_id} ({self.status})"
