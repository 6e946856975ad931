"""The staff roles. Groups are created by migration customers.0002_roles; each app's migrations
add their own permissions to Support agent and Marketing. Administrator holds every permission,
kept complete after each migrate by ``grant_administrator_everything``."""

from __future__ import annotations

from typing import Any

SUPPORT_AGENT = "Support agent"
MARKETING = "Marketing"
ADMINISTRATOR = "Administrator"


def grant_administrator_everything(**kwargs: Any) -> None:
    """post_migrate: give the Administrator group any permission created since last time."""
    from django.contrib.auth.models import Group, Permission
    from django.db import DEFAULT_DB_ALIAS

    using = kwargs.get("using", DEFAULT_DB_ALIAS)
    group = Group.objects.using(using).filter(name=ADMINISTRATOR).first()
    if group is not None:
        group.permissions.add(*Permission.objects.using(using).all())
