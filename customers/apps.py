from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from customers import relocation
        from customers.models import Consent, Identity, Interaction

        # Our own customer-owned rows; other apps register theirs in their ready().
        relocation.register(Identity)
        relocation.register(Interaction)
        relocation.register(Consent, handler=relocation.ConsentRelocation())
