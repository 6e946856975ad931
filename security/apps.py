from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecurityConfig(AppConfig):
    """Staff sign-in (two factors, lockout), the audit log, one-time codes and the key that
    encrypts secrets at rest. It sits below every other app of ours and imports none of them."""

    name = "security"
    verbose_name = _("Security")

    def ready(self) -> None:
        from security import admin_users, checks  # noqa: F401  (checks register themselves)

        admin_users.register()  # the user admin with two-factor status and reset
