"""Commerce in the back office: products and stock, carts, orders, stock alerts (read-mostly:
storefronts own this data and write it through the API)."""

from __future__ import annotations

from functools import partial

from django.contrib import admin
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from commerce import customer_page
from commerce.models import Cart, CartLine, Order, OrderLine, Product, Restock, StockAlert


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("sku", "name", "price", "currency", "stock_quantity", "updated_at")
    search_fields = ("sku", "name")
    show_full_result_count = False


@admin.register(Restock)
class RestockAdmin(admin.ModelAdmin):
    list_display = ("product", "previous_quantity", "quantity", "occurred_at", "processed_at")
    list_select_related = ("product",)
    raw_id_fields = ("product",)


class CartLineInline(admin.TabularInline):
    model = CartLine
    fields = ("sku", "name", "price", "quantity", "channel", "added_at")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = ("pk", "customer", "status", "changed_at", "checkout_started_at", "converted_at")
    list_filter = ("status",)
    list_select_related = ("customer",)
    raw_id_fields = ("customer", "order")
    inlines = [CartLineInline]
    show_full_result_count = False

    def get_urls(self) -> list[URLPattern]:
        # The customer page's "Convert in store" button (commerce/customer_page.py) posts here.
        convert = partial(customer_page.convert_in_store_view, self)
        return [
            path(
                "convert-in-store/<int:customer_id>/",
                self.admin_site.admin_view(convert),
                name="commerce_cart_convert_in_store",
            ),
            *super().get_urls(),
        ]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    fields = ("sku", "name", "price", "quantity")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("external_id", "customer", "channel", "total", "currency", "placed_at")
    list_filter = ("channel",)
    list_select_related = ("customer",)
    search_fields = ("external_id",)
    raw_id_fields = ("customer", "source")
    inlines = [OrderLineInline]
    date_hierarchy = "placed_at"
    show_full_result_count = False


@admin.register(StockAlert)
class StockAlertAdmin(admin.ModelAdmin):
    list_display = ("customer", "product", "channel", "status", "created_at", "notified_at")
    list_filter = ("status", "channel")
    list_select_related = ("customer", "product")
    raw_id_fields = ("customer", "product")
    readonly_fields = ("address", "confirmed_at", "notified_at")
    show_full_result_count = False


admin.site.empty_value_display = _("—")
