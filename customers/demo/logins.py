"""The demo staff accounts, one for each staff group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group


class DemoLogin(NamedTuple):
    """A demo staff account; ``describe_setup --logins`` unpacks (role, username, password)."""

    role: str  # the staff group
    username: str
    password: str

    @property
    def superuser(self) -> bool:
        return self.role == "Administrator"


DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("Support agent", "agent", "agent-demo-pass"),
    DemoLogin("Marketing", "marketer", "marketer-demo-pass"),
    DemoLogin("Administrator", "admin", "admin-demo-pass"),
)


@dataclass(frozen=True)
class LoginResult:
    login: DemoLogin
    created: bool


def ensure_logins() -> list[LoginResult]:
    """Create the demo staff accounts that are missing; never touches an existing account's
    password (a real "admin" may exist). Idempotent."""
    user_model = get_user_model()
    results = []
    for login in DEMO_LOGINS:
        group, _ = Group.objects.get_or_create(name=login.role)
        user = user_model._default_manager.filter(username=login.username).first()
        created = user is None
        if user is None:
            user = user_model(
                username=login.username,
                is_staff=True,
                is_superuser=login.superuser,
                email=f"{login.username}@example.com",
            )
            user.set_password(login.password)
            user.save()
            user.groups.add(group)
        results.append(LoginResult(login, created))
    return results


def _demo_agent() -> AbstractBaseUser | None:
    return get_user_model()._default_manager.filter(username=DEMO_LOGINS[0].username).first()
