"""Back in stock: when a product's stock goes from 0 to more (a ``commerce.Restock``), its active
alerts are notified first come, first served, in batches sized to the stock.

Each sweep takes, per pending restock, the next batch of at most ``stock × BATCH_MULTIPLIER``
active alerts (oldest first), re-reading the stock before every batch: sold out again, the
restock is closed and the rest wait for the next one. Each alert becomes an enrollment in the
"back_in_stock" journey (its one step re-checks the stock when it sends, on the alert's channel)
and is marked notified. Alerts whose double opt-in is unconfirmed are not active, so they wait.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from commerce.models import Product, Restock, StockAlert
from journeys.models import Enrollment, Journey

KEY = "back_in_stock"


def notify_restocks(*, limit: int = 50) -> int:
    """Run one batch for each of up to ``limit`` pending restocks; returns alerts enrolled."""
    journey = Journey.objects.filter(key=KEY, active=True).first()
    if journey is None:
        return 0
    enrolled = 0
    with transaction.atomic():
        restocks = list(
            Restock.objects.select_for_update(skip_locked=True)
            .filter(processed_at__isnull=True)
            .order_by("occurred_at")[:limit]
        )
        now = timezone.now()
        for restock in restocks:
            product = Product.objects.select_for_update().get(pk=restock.product_id)
            stock = product.stock_quantity or 0
            alerts = []
            if stock > 0:
                size = max(1, int(stock * settings.BACK_IN_STOCK_BATCH_MULTIPLIER))
                alerts = list(
                    StockAlert.objects.select_for_update(skip_locked=True)
                    .filter(product=product, status=StockAlert.Status.ACTIVE)
                    .order_by("created_at", "pk")[:size]
                )
            Enrollment.objects.bulk_create(
                [
                    Enrollment(
                        journey=journey,
                        customer_id=alert.customer_id,
                        context_key=f"alert:{alert.pk}",
                        context={
                            "sku": product.sku,
                            "alert_id": alert.pk,
                            "channels": [alert.channel],
                        },
                        next_run_at=now,
                    )
                    for alert in alerts
                ],
                ignore_conflicts=True,  # an alert already enrolled (a retried sweep)
            )
            StockAlert.objects.filter(pk__in=[a.pk for a in alerts]).update(
                status=StockAlert.Status.NOTIFIED, notified_at=now
            )
            enrolled += len(alerts)
            remaining = StockAlert.objects.filter(
                product=product, status=StockAlert.Status.ACTIVE
            ).exists()
            if stock <= 0 or not remaining:
                Restock.objects.filter(pk=restock.pk).update(processed_at=now)
    return enrolled
