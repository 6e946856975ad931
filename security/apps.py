from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecurityConfig(AppConfig):
    """Staff sign-in (two factors, lockout), the audit log, one-time codes and the key that
    encrypts secrets at rest. It sits below every other app of ours and imports none of them."""

    name = "security"
    verbose_name = _("Security")
