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


def grant_in_migration(apps: Any, app_label: str, roles: dict[str, list[str]]) -> None:
    """For an app's data migration: create its permissions now (Django makes them only after
    migrate) and give each role group its codenames; a missing group is skipped."""
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config(app_label)
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, codenames in roles.items():
        group = group_model.objects.filter(name=name).first()
        if group is not None:
            group.permissions.add(
                *permission_model.objects.filter(
                    content_type__app_label=app_label, codename__in=codenames
                )
            )


def revoke_in_migration(apps: Any, app_label: str, roles: dict[str, list[str]]) -> None:
    """The reverse of ``grant_in_migration``."""
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for group in group_model.objects.filter(name__in=roles):
        group.permissions.remove(
            *permission_model.objects.filter(
                content_type__app_label=app_label, codename__in=roles[group.name]
            )
        )
