"""How a customer merge moves commerce rows (registered in CommerceConfig.ready)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import F

from commerce.models import Cart, CartLine, StockAlert
from customers.relocation import Moved, Relocation

if TYPE_CHECKING:
    from customers.models import Customer


class CartRelocation(Relocation):
    """Carts move; two active carts combine into the survivor's, quantities added per SKU.

    The duplicate's active cart is marked merged and keeps its own lines, so an undo only has to
    take back the quantities and lines that were added to the survivor's cart.
    """

    def move(self, *, duplicate: Customer, survivor: Customer) -> Moved:
        theirs = Cart.objects.filter(customer=duplicate, status=Cart.Status.ACTIVE).first()
        ours = Cart.objects.filter(customer=survivor, status=Cart.Status.ACTIVE).first()
        state: dict[str, object] = {}
        if theirs is not None and ours is not None:
            state = self._combine(theirs, ours)
        moved = super().move(duplicate=duplicate, survivor=survivor)
        moved.state = state
        return moved

    def _combine(self, theirs: Cart, ours: Cart) -> dict[str, object]:
        existing = {line.sku: line for line in ours.lines.all()}
        added_lines: list[int] = []
        added_quantities: dict[str, int] = {}
        for line in theirs.lines.all():
            if line.sku in existing:
                CartLine.objects.filter(pk=existing[line.sku].pk).update(
                    quantity=F("quantity") + line.quantity
                )
                added_quantities[str(existing[line.sku].pk)] = line.quantity
            else:
                copy = CartLine.objects.create(
                    cart=ours,
                    product_id=line.product_id,
                    sku=line.sku,
                    name=line.name,
                    price=line.price,
                    quantity=line.quantity,
                    channel=line.channel,
                    added_at=line.added_at,
                )
                added_lines.append(copy.pk)
        prior_changed_at = ours.changed_at.isoformat()
        Cart.objects.filter(pk=ours.pk).update(changed_at=max(ours.changed_at, theirs.changed_at))
        Cart.objects.filter(pk=theirs.pk).update(status=Cart.Status.MERGED)
        return {
            "into": ours.pk,
            "from": theirs.pk,
            "added_lines": added_lines,
            "added_quantities": added_quantities,
            "changed_at": prior_changed_at,
        }

    def undo(self, moved: Moved, *, duplicate: Customer, survivor: Customer) -> None:
        from django.utils.dateparse import parse_datetime

        super().undo(moved, duplicate=duplicate, survivor=survivor)
        state = moved.state
        if not state:
            return
        CartLine.objects.filter(pk__in=state["added_lines"]).delete()
        for line_pk, quantity in state["added_quantities"].items():
            CartLine.objects.filter(pk=int(line_pk)).update(quantity=F("quantity") - quantity)
        Cart.objects.filter(pk=state["into"]).update(changed_at=parse_datetime(state["changed_at"]))
        Cart.objects.filter(pk=state["from"]).update(status=Cart.Status.ACTIVE)


class StockAlertRelocation(Relocation):
    """Alerts move, except a live one for a product the survivor already waits for."""

    def move(self, *, duplicate: Customer, survivor: Customer) -> Moved:
        waiting = StockAlert.objects.filter(
            customer=survivor, status__in=[StockAlert.Status.PENDING, StockAlert.Status.ACTIVE]
        ).values_list("product_id", flat=True)
        rows = StockAlert.objects.filter(customer=duplicate).exclude(
            product_id__in=list(waiting), status__in=["pending", "active"]
        )
        ids = sorted(rows.values_list("pk", flat=True))
        StockAlert.objects.filter(pk__in=ids).update(customer=survivor)
        return Moved(ids=ids)
