"""Data rights for commerce rows (registered in CommerceConfig.ready): carts and orders are
exported with their lines; an erasure keeps them whole (amounts, items, channel: revenue and
counts hold) and clears what names or reaches the person."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from commerce.models import Cart, CartLine, Order, OrderLine, StockAlert
from customers import privacy
from customers.privacy import Erasure, PersonalData


class WithLines(PersonalData):
    """Rows exported with their lines nested under ``lines`` (two queries in all)."""

    def __init__(self, line_model: type, parent: str) -> None:
        self.line_model, self.parent = line_model, parent

    def export(self, customer_ids: Sequence[int]) -> list[dict[str, Any]]:
        rows = super().export(customer_ids)
        lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
        found = self.line_model._default_manager.filter(
            **{f"{self.parent}__customer_id__in": list(customer_ids)}
        ).order_by("pk")
        for line in found.values().iterator(chunk_size=2000):
            lines[line[f"{self.parent}_id"]].append(line)
        return [{**row, "lines": lines.get(row["id"], [])} for row in rows]


class OrderData(WithLines):
    """Orders keep amounts, lines and channel. They hold no shipping address or name today; a
    field that would (an address, a gift note) must be cleared here."""

    def erase(self, erasure: Erasure) -> None:
        # The coupon may be a personal code (e.g. a referral code carrying the person's name).
        for pk, coupon in self.rows(erasure.customer_ids).values_list("pk", "coupon"):
            if erasure.mentions(coupon):
                self.model._default_manager.filter(pk=pk).update(coupon="")


class StockAlertData(PersonalData):
    """Alerts keep product, channel and times; the address goes, and a waiting alert ends."""

    def erase(self, erasure: Erasure) -> None:
        rows = self.rows(erasure.customer_ids)
        rows.filter(status__in=[StockAlert.Status.PENDING, StockAlert.Status.ACTIVE]).update(
            status=StockAlert.Status.CANCELLED
        )
        rows.update(address="")


privacy.register(Cart, section="carts", handler=WithLines(CartLine, "cart"))
privacy.register(Order, section="orders", handler=OrderData(OrderLine, "order"))
privacy.register(StockAlert, section="stock_alerts", handler=StockAlertData())
