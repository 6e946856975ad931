from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommerceConfig(AppConfig):
    name = "commerce"
    verbose_name = _("Commerce")

    def ready(self) -> None:
        from commerce import (
            merging,
            privacy,  # noqa: F401  (registers its data-rights handlers)
            reactors,
        )
        from commerce.models import Cart, Order, StockAlert
        from customers import reactors as event_log
        from customers import relocation

        relocation.register(Cart, handler=merging.CartRelocation())
        relocation.register(Order)
        relocation.register(StockAlert, handler=merging.StockAlertRelocation())
        # Commerce reacts before journeys (order 20), so journeys see converted carts.
        event_log.register(
            reactors.on_interaction,
            order=10,
            name="commerce",
            events=reactors.HANDLERS,
            prepare=reactors.prepare,
        )
