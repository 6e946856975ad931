"""System checks of the security app: the key that encrypts secrets at rest."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register

from security import crypto


@register()
def encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    """E001: no key (DEBUG off and CRM_ENCRYPTION_KEYS empty); E002: a key that is not a
    Fernet key. (W100, deploy only, below: the development key derived from SECRET_KEY; W001
    is Django's own.)"""
    configured = [key for key in getattr(settings, "CRM_ENCRYPTION_KEYS", []) or [] if key]
    keys = crypto.configured_keys()
    if not keys:
        return [
            Error(
                "No key encrypts channel secrets at rest: CRM_ENCRYPTION_KEYS is not set.",
                hint=crypto.GENERATE_HINT,
                id="security.E001",
            )
        ]
    if bad := crypto.invalid_keys(configured):
        return [
            Error(
                "CRM_ENCRYPTION_KEYS holds a value that is not a Fernet key (position "
                + ", ".join(map(str, bad))
                + ").",
                hint=crypto.GENERATE_HINT,
                id="security.E002",
            )
        ]
    return []


@register(deploy=True)
def encryption_keys_deploy(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    configured = [key for key in getattr(settings, "CRM_ENCRYPTION_KEYS", []) or [] if key]
    if configured or not crypto.configured_keys():
        return []
    return [
        Warning(
            "Secrets at rest are encrypted with a key derived from SECRET_KEY (development "
            "only): changing SECRET_KEY would make them unreadable.",
            hint=crypto.GENERATE_HINT,
            id="security.W100",
        )
    ]
