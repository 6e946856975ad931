"""Public pages of commerce: the stock-alert confirmation link."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from commerce import services
from customers.errors import DomainError


def confirm_alert(request: HttpRequest, token: str) -> HttpResponse:
    try:
        alert = services.confirm_stock_alert(token)
    except DomainError as error:
        return render(request, "commerce/alert_confirm.html", {"error": error.message}, status=400)
    return render(request, "commerce/alert_confirm.html", {"alert": alert})
