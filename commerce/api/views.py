"""REST API for storefronts: the live cart, orders, products and stock, stock alerts."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from commerce import restore, services
from commerce.api.serializers import (
    CartInputSerializer,
    CartRestoreInputSerializer,
    CartRestoreSerializer,
    CartSerializer,
    OrderInputSerializer,
    OrderSerializer,
    ProductSerializer,
    StockAlertInputSerializer,
    StockAlertSerializer,
)
from commerce.models import Cart, CartLine, Order, Product
from commerce.services import LineInput
from customers import services as customers
from customers.api.errors import ApiError
from customers.api.fields import find_or_create
from customers.api.views import SourceAPIView
from customers.models import Interaction


def _cart_payload(cart: Cart | None) -> dict:
    if cart is None:
        return {"id": None, "status": "empty", "currency": "", "lines": [], "total": "0"}
    cart = Cart.objects.prefetch_related(
        Prefetch("lines", queryset=CartLine.objects.order_by("added_at", "pk"))
    ).get(pk=cart.pk)
    return CartSerializer(cart).data


class CartView(SourceAPIView):
    serializer_class = CartSerializer

    @extend_schema(tags=["carts"])
    def get(self, request: Request, public_id: str) -> Response:
        """The customer's one live cart, whatever channel filled it."""
        customer = self.customer_or_404(public_id)
        return Response(_cart_payload(services.active_cart(customer, create=False)))

    @extend_schema(request=CartInputSerializer, tags=["carts"])
    def put(self, request: Request, public_id: str) -> Response:
        """Replace the whole live cart with these lines."""
        customer = self.customer_or_404(public_id)
        form = CartInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        cart = services.replace_cart(
            customer,
            [LineInput(**line) for line in data["lines"]],
            channel=data["channel"],
            currency=data.get("currency", ""),
        )
        customers.record_interaction(
            customer=customer,
            type=Interaction.Type.TRACK,
            channel=data["channel"],
            name="Cart Updated",
            summary=f"Cart set to {len(data['lines'])} line(s)",
            properties={"crm_cart_id": cart.pk},
            source=self.source,
        )
        return Response(_cart_payload(cart))


class CartRestoreView(SourceAPIView):
    serializer_class = CartRestoreSerializer

    @extend_schema(
        request=CartRestoreInputSerializer, responses={200: CartRestoreSerializer}, tags=["carts"]
    )
    def post(self, request: Request) -> Response:
        """Restore the cart a reminder link names, on the channel asking: returns the customer
        and their live cart (to rebuild the session from) and puts `Cart Restored` on their
        timeline. `invalid_link` (400) for a forged or expired token, `cart_gone` (410) when
        the cart was ordered or emptied since."""
        form = CartRestoreInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        customer, cart = restore.restore(data["token"], channel=data["channel"], source=self.source)
        return Response({"customer": str(customer.public_id), "cart": _cart_payload(cart)})


class OrderCreateView(SourceAPIView):
    serializer_class = OrderSerializer

    @extend_schema(
        request=OrderInputSerializer,
        responses={201: OrderSerializer, 200: OrderSerializer},
        tags=["orders"],
    )
    def post(self, request: Request) -> Response:
        """Create an order (201); the same order_id again answers 200 with the first one."""
        form = OrderInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        existing = Order.objects.filter(external_id=data["order_id"]).first()
        if existing is not None:
            return Response(OrderSerializer(existing).data, status=status.HTTP_200_OK)
        customer = find_or_create(data["customer"], source=self.source, create=True)
        if customer is None:
            raise ApiError("customer_not_found", "No usable identifier for the customer.")
        channel = data.get("channel") or self.source.channel
        # Through the event log, so the order is on the timeline and journeys see it.
        customers.record_interaction(
            customer=customer,
            type=Interaction.Type.ORDER,
            channel=channel,
            name="Order Completed",
            occurred_at=data.get("placed_at"),
            source=self.source,
            message_id=f"order:{data['order_id']}",
            properties=_order_properties(data),
        )
        order = Order.objects.prefetch_related("lines").select_related("customer")
        return Response(
            OrderSerializer(order.get(external_id=data["order_id"])).data,
            status=status.HTTP_201_CREATED,
        )


def _order_properties(data: dict) -> dict:
    props = {
        "order_id": data["order_id"],
        "currency": data.get("currency", ""),
        "coupon": data.get("coupon", ""),
        "products": [
            {
                "sku": line["sku"],
                "quantity": line["quantity"],
                "name": line.get("name", ""),
                "price": str(line["price"]) if line.get("price") is not None else None,
            }
            for line in data["lines"]
        ],
    }
    for key in ("subtotal", "discount", "tax", "shipping", "total"):
        if data.get(key) is not None:
            props[key] = str(data[key])
    return props


class OrderDetailView(SourceAPIView):
    serializer_class = OrderSerializer

    @extend_schema(tags=["orders"])
    def get(self, request: Request, external_id: str) -> Response:
        order = (
            Order.objects.prefetch_related("lines")
            .select_related("customer")
            .filter(external_id=external_id)
            .first()
        )
        if order is None:
            raise ApiError("order_not_found", "No order has this id.", status_code=404)
        return Response(OrderSerializer(order).data)


class ProductView(SourceAPIView):
    serializer_class = ProductSerializer

    @extend_schema(tags=["products"])
    def get(self, request: Request, sku: str) -> Response:
        product = Product.objects.filter(sku=sku).first()
        if product is None:
            raise ApiError("product_not_found", "No product has this SKU.", status_code=404)
        return Response(ProductSerializer(product).data)

    @extend_schema(request=ProductSerializer, tags=["products"])
    def put(self, request: Request, sku: str) -> Response:
        """Create or update a product; stock going from 0 to more is recorded as a restock."""
        if len(sku) > 100:
            raise ApiError("invalid_sku", "A SKU is at most 100 characters.")
        form = ProductSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        product = services.upsert_product(
            sku=sku,
            name=data.get("name"),
            url=data.get("url"),
            image_url=data.get("image_url"),
            price=data.get("price"),
            currency=data.get("currency"),
            stock_quantity=data.get("stock_quantity"),
            set_stock="stock_quantity" in data,
        )
        return Response(ProductSerializer(product).data)


class StockAlertView(SourceAPIView):
    serializer_class = StockAlertSerializer

    @extend_schema(
        request=StockAlertInputSerializer, responses={201: StockAlertSerializer}, tags=["stock"]
    )
    def post(self, request: Request) -> Response:
        """'Notify me when back in stock'; an unverified email is asked to confirm first."""
        form = StockAlertInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        product = Product.objects.filter(sku=data["sku"]).first()
        if product is None:
            raise ApiError("product_not_found", "No product has this SKU.", status_code=404)
        customer = find_or_create(data["customer"], source=self.source, create=True)
        if customer is None:
            raise ApiError("customer_not_found", "No usable identifier for the customer.")
        alert = services.request_stock_alert(customer, product=product, channel=data["channel"])
        return Response(StockAlertSerializer(alert).data, status=status.HTTP_201_CREATED)
