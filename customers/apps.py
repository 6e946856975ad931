from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from customers import privacy, relocation
        from customers.models import Case, Consent, Identity, Interaction
        from customers.roles import grant_administrator_everything

        # Our own customer-owned rows; other apps register theirs in their ready().
        relocation.register(Identity)
        relocation.register(Interaction)
        relocation.register(Case)
        relocation.register(Consent, handler=relocation.ConsentRelocation())
        privacy.register_own()  # export and erasure of the same rows (customers/privacy.py)
        # Runs after auth's create_permissions for each app, so the group stays complete.
        post_migrate.connect(
            grant_administrator_everything, dispatch_uid="customers.grant_administrator"
        )
