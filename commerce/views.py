"""Public pages of commerce: the stock-alert confirmation link, the cart restore link."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from commerce import restore, services
from customers.errors import DomainError


def confirm_alert(request: HttpRequest, token: str) -> HttpResponse:
    try:
        alert = services.confirm_stock_alert(token)
    except DomainError as error:
        return render(request, "commerce/alert_confirm.html", {"error": error.message}, status=400)
    return render(request, "commerce/alert_confirm.html", {"alert": alert})


def restore_cart(request: HttpRequest, token: str) -> HttpResponse:
    """A cart reminder's link: on to the shop's restore page, or the cart shown here."""
    try:
        customer, cart = restore.live_cart(token)
    except DomainError as error:
        return render(
            request, "commerce/cart_restore.html", {"error": error.message}, status=error.status
        )
    target = restore.shop_url(token)
    if target:
        return redirect(target)
    return render(request, "commerce/cart_restore.html", {"customer": customer, "cart": cart})
