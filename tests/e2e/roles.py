"""The staff role groups as the migrations made them, kept so live-server tests can put them back.

A transactional test (every live-server test is one) ends by flushing the database: the role
groups made by data migrations are gone for the tests after it in the same process, while
permissions come back with ``post_migrate``. ``remember()`` runs once per test process right
after the test database is migrated (tests/conftest.py), ``restore()`` at the start of each
browser test.
"""

from __future__ import annotations

from collections import defaultdict

_roles: dict[str, set[tuple[str, str]]] = {}


def remember() -> None:
    """Keep each group's permissions as (app label, codename) pairs."""
    from django.contrib.auth.models import Group

    roles: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for group in Group.objects.values_list("name", flat=True):
        roles[group]  # a group without permissions is still a role
    pairs = Group.permissions.through.objects.values_list(
        "group__name", "permission__content_type__app_label", "permission__codename"
    )
    for group, app_label, codename in pairs:
        roles[group].add((app_label, codename))
    _roles.clear()
    _roles.update(roles)


def restore() -> None:
    """Create the remembered groups that are missing, with their permissions."""
    from django.contrib.auth.models import Group, Permission

    missing = set(_roles) - set(
        Group.objects.filter(name__in=_roles).values_list("name", flat=True)
    )
    if not missing:
        return
    by_pair = {
        (app_label, codename): pk
        for pk, app_label, codename in Permission.objects.values_list(
            "pk", "content_type__app_label", "codename"
        )
    }
    for name in sorted(missing):
        group = Group.objects.create(name=name)
        group.permissions.set([by_pair[pair] for pair in _roles[name] if pair in by_pair])


def known() -> set[str]:
    return set(_roles)
