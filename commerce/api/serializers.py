from __future__ import annotations

from rest_framework import serializers

from commerce.models import Cart, CartLine, Order, OrderLine, Product, StockAlert
from customers.api.fields import CustomerRefField
from customers.models import ChannelKind

MONEY = {"max_digits": 14, "decimal_places": 2}


class LineSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=100)
    quantity = serializers.IntegerField(min_value=1, max_value=100_000, default=1)
    name = serializers.CharField(max_length=300, required=False, allow_blank=True)
    price = serializers.DecimalField(**MONEY, required=False, allow_null=True, min_value=0)


class CartLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = CartLine
        fields = ["sku", "name", "price", "quantity", "channel", "added_at"]


class CartSerializer(serializers.ModelSerializer):
    lines = CartLineSerializer(many=True, read_only=True)
    total = serializers.SerializerMethodField()

    class Meta:
        model = Cart
        fields = ["id", "status", "currency", "lines", "total", "changed_at", "created_at"]

    def get_total(self, cart: Cart) -> str:
        return str(sum((line.total for line in cart.lines.all()), start=0))


class CartInputSerializer(serializers.Serializer):
    lines = LineSerializer(many=True, max_length=500)
    channel = serializers.ChoiceField(choices=ChannelKind.choices, default=ChannelKind.WEB)
    currency = serializers.CharField(max_length=3, required=False, allow_blank=True)


class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["sku", "name", "price", "quantity"]


class OrderSerializer(serializers.ModelSerializer):
    lines = OrderLineSerializer(many=True, read_only=True)
    customer = serializers.UUIDField(source="customer.public_id", read_only=True)

    class Meta:
        model = Order
        fields = [
            "external_id",
            "customer",
            "channel",
            "currency",
            "subtotal",
            "discount",
            "tax",
            "shipping",
            "total",
            "coupon",
            "placed_at",
            "lines",
        ]


class OrderInputSerializer(serializers.Serializer):
    customer = CustomerRefField()
    order_id = serializers.CharField(max_length=100)
    channel = serializers.ChoiceField(choices=ChannelKind.choices, required=False)
    currency = serializers.CharField(max_length=3, required=False, allow_blank=True)
    lines = LineSerializer(many=True, max_length=500)
    subtotal = serializers.DecimalField(**MONEY, required=False, min_value=0)
    discount = serializers.DecimalField(**MONEY, required=False, min_value=0)
    tax = serializers.DecimalField(**MONEY, required=False, min_value=0)
    shipping = serializers.DecimalField(**MONEY, required=False, min_value=0)
    total = serializers.DecimalField(**MONEY, required=False, min_value=0)
    coupon = serializers.CharField(max_length=100, required=False, allow_blank=True)
    placed_at = serializers.DateTimeField(required=False)


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = [
            "sku",
            "name",
            "url",
            "image_url",
            "price",
            "currency",
            "stock_quantity",
            "updated_at",
        ]
        read_only_fields = ["sku", "updated_at"]
        extra_kwargs = {
            "price": {"min_value": 0},
            "stock_quantity": {"min_value": -1_000_000, "max_value": 1_000_000_000},
        }


class CartRestoreInputSerializer(serializers.Serializer):
    token = serializers.CharField(
        max_length=2000, help_text="From the reminder's /cart/<token>/ link."
    )
    channel = serializers.ChoiceField(
        choices=ChannelKind.choices,
        default=ChannelKind.WEB,
        help_text="Where the cart is being restored (web, app, store…).",
    )


class CartRestoreSerializer(serializers.Serializer):
    customer = serializers.UUIDField(help_text="The customer's public id.")
    cart = CartSerializer()


class StockAlertInputSerializer(serializers.Serializer):
    customer = CustomerRefField()
    sku = serializers.CharField(max_length=100)
    channel = serializers.ChoiceField(
        choices=[ChannelKind.EMAIL, ChannelKind.SMS, ChannelKind.PUSH, ChannelKind.WHATSAPP]
    )


class StockAlertSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)

    class Meta:
        model = StockAlert
        fields = ["id", "sku", "channel", "status", "created_at", "confirmed_at"]
