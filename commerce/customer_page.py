"""Commerce on the customer page's first screen: the last order and the live cart, with the
store associate's "Convert in store" button (posted to CartAdmin's ``convert_in_store`` URL)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Sum, Window
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from commerce import store
from commerce.models import Cart, CartLine, Order
from customers.admin import panels
from customers.admin.base import admin_link, channel_badge, customer_url
from customers.errors import DomainError
from customers.models import Customer

# Cart lines listed in the card; a bigger cart is still counted and summed whole.
CART_LINES_SHOWN = 6


class ConvertInStoreForm(forms.Form):
    """The hidden fields of the button: which cart, and the version of it the associate saw."""

    cart = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    version = forms.CharField(max_length=100, widget=forms.HiddenInput)


def can_convert(request: HttpRequest) -> bool:
    """Store associates (commerce.add_order) who may see the customer."""
    return request.user.has_perm(store.CONVERT_PERMISSION) and request.user.has_perm(
        "customers.view_customer"
    )


def summary_card(request: HttpRequest, customer: Customer) -> dict[str, Any] | None:
    """The last order and the live cart: two queries, whatever the history."""
    if customer.is_merged:
        return None  # orders and carts moved to the survivor with the rest
    user = request.user
    show_orders, show_cart = (
        user.has_perm("commerce.view_order"),
        user.has_perm("commerce.view_cart"),
    )
    if not (show_orders or show_cart):
        return None
    context: dict[str, Any] = {"show_orders": show_orders, "show_cart": show_cart}
    if show_orders:
        last = Order.objects.filter(customer=customer).order_by("-placed_at", "-pk").first()
        context["last_order"] = last and {
            "order": last,
            "channel": channel_badge(last.channel),
            "url": reverse("admin:commerce_order_change", args=[last.pk]),
        }
        context["orders_url"] = (
            f"{reverse('admin:commerce_order_changelist')}?customer__id__exact={customer.pk}"
        )
    if show_cart:
        context["cart"] = _cart(request, customer)
    return context


def _cart(request: HttpRequest, customer: Customer) -> dict[str, Any] | None:
    line_total = ExpressionWrapper(
        Coalesce(F("price"), Decimal(0)) * F("quantity"),
        output_field=DecimalField(max_digits=20, decimal_places=2),
    )
    rows = list(
        CartLine.objects.filter(cart__customer=customer, cart__status=Cart.Status.ACTIVE)
        .select_related("cart")
        # The whole cart's size and value in the same query (windows come before the LIMIT).
        .annotate(cart_lines=Window(Count("pk")), cart_value=Window(Sum(line_total)))
        .order_by("added_at", "pk")[:CART_LINES_SHOWN]
    )
    if not rows:
        return None  # no live cart, or an empty one: nothing to show or convert
    cart = rows[0].cart
    count = rows[0].cart_lines
    total = Decimal(rows[0].cart_value or 0).quantize(Decimal("0.01"))
    channels = list(dict.fromkeys(line.channel for line in rows))
    version = store.CartVersion.of(cart, count, total).encode()
    return {
        "cart": cart,
        "lines": rows,
        "line_count": count,
        "more_lines": count - min(count, CART_LINES_SHOWN),
        "total": total,
        "channels": [channel_badge(channel) for channel in channels],
        "url": reverse("admin:commerce_cart_change", args=[cart.pk]),
        "convert": (
            {
                "url": reverse("admin:commerce_cart_convert_in_store", args=[customer.pk]),
                "form": ConvertInStoreForm(initial={"cart": cart.pk, "version": version}),
            }
            if can_convert(request)
            else None
        ),
    }


def convert_in_store_view(
    model_admin: ModelAdmin, request: HttpRequest, customer_id: int
) -> HttpResponse:
    """POST only: order the live cart in the store, then back to the customer page with what
    happened. 403 without commerce.add_order; every refusal is a message on the page."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not can_convert(request):
        raise PermissionDenied
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        raise Http404
    page = customer_url(customer)
    form = ConvertInStoreForm(request.POST)
    if not form.is_valid():
        model_admin.message_user(
            request, _("The cart was not converted: the form was incomplete."), messages.ERROR
        )
        return redirect(page)
    try:
        order, created = store.convert_in_store(
            customer,
            cart_id=form.cleaned_data["cart"],
            version=form.cleaned_data["version"],
            agent=request.user,
        )
    except DomainError as error:
        model_admin.message_user(request, error.message, messages.ERROR)
        return redirect(page)
    text = (
        _("Order {order} placed in store for {total} {currency}.")
        if created
        else _("This cart was already ordered in store: {order} ({total} {currency}).")
    )
    model_admin.message_user(
        request,
        format_html(str(text), order=admin_link(order), total=order.total, currency=order.currency),
        messages.SUCCESS if created else messages.WARNING,
    )
    return redirect(page)


panels.register(
    "commerce.summary",
    template="admin/commerce/panels/summary.html",
    context=summary_card,
    order=10,
    slot=panels.SUMMARY,
)
