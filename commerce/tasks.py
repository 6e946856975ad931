"""Thin Celery wrappers around commerce services."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from commerce.models import StockAlert
from commerce.services import confirmation_token


@shared_task(
    name="commerce.send_alert_confirmation",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
    ignore_result=True,
)
def send_alert_confirmation(alert_id: int) -> None:
    """Email the double opt-in link of a pending stock alert, in the customer's language."""
    alert = (
        StockAlert.objects.select_related("customer", "product")
        .filter(pk=alert_id, status=StockAlert.Status.PENDING)
        .first()
    )
    if alert is None or not alert.address:
        return
    link = settings.SITE_URL.rstrip("/") + reverse(
        "alert-confirm", args=[confirmation_token(alert)]
    )
    with translation.override(alert.customer.locale or settings.LANGUAGE_CODE):
        subject = _("Confirm your back-in-stock alert")
        body = _(
            "You asked us to tell you when %(product)s is back in stock.\n"
            "Confirm it is you by opening this link:\n%(link)s\n\n"
            "If you did not ask for this, ignore this message."
        ) % {"product": alert.product.name or alert.product.sku, "link": link}
    send_mail(subject, body, None, [alert.address])
