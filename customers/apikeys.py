"""API keys of sources: create (shown once), authenticate, rotate, revoke."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.errors import DomainError
from customers.models import ApiKey, Source
from security import audit

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

KEY_MARK = "crm_"
PREFIX_LENGTH = 10
ALL_SCOPES = tuple(ApiKey.Scope.values)
# What a key gets unless asked otherwise: export and erasure (privacy) are granted on purpose.
DEFAULT_SCOPES = tuple(s for s in ALL_SCOPES if s != ApiKey.Scope.PRIVACY)
# last_used_at is a hint for people, not an audit log: write it at most once a minute per key.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_key(
    source: Source,
    *,
    scopes: Collection[str] = DEFAULT_SCOPES,
    name: str = "",
    by: AbstractBaseUser | None = None,
) -> tuple[ApiKey, str]:
    """Make a new key for ``source``; returns the row and the plaintext, which is never stored."""
    unknown = set(scopes) - set(ALL_SCOPES)
    if unknown or not scopes:
        raise DomainError(
            "invalid_scopes",
            _("Scopes must be some of %(scopes)s.") % {"scopes": ", ".join(ALL_SCOPES)},
        )
    with transaction.atomic():
        prefix = secrets.token_hex(PREFIX_LENGTH // 2)
        raw = f"{KEY_MARK}{prefix}{secrets.token_hex(24)}"
        key = ApiKey.objects.create(
            source=source,
            name=name[:100],
            prefix=prefix,
            key_hash=_hash(raw),
            scopes=sorted(set(scopes)),
            created_by=by,
        )
        audit.record(
            audit.Action.KEY_CREATE,
            actor=by,
            target=key.source,
            key=f"{prefix}…",
            scopes=key.scopes,
        )
    return key, raw


def authenticate(raw: str) -> ApiKey | None:
    """The live key (of an active source) this plaintext is, or None. Constant-time compare."""
    raw = (raw or "").strip()
    if not raw.startswith(KEY_MARK) or len(raw) > 200:
        return None
    prefix = raw[len(KEY_MARK) : len(KEY_MARK) + PREFIX_LENGTH]
    key = (
        ApiKey.objects.select_related("source")
        .filter(prefix=prefix, revoked_at__isnull=True, source__active=True)
        .first()
    )
    if key is None or not hmac.compare_digest(key.key_hash, _hash(raw)):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


def revoke_key(key: ApiKey, *, by: AbstractBaseUser | None = None) -> None:
    """Stop a key from working, at once; idempotent."""
    with transaction.atomic():
        revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if revoked:
            audit.record(audit.Action.KEY_REVOKE, actor=by, target=key.source, key=f"{key.prefix}…")


def rotate_key(key: ApiKey, *, by: AbstractBaseUser | None = None) -> tuple[ApiKey, str]:
    """Replace a key by a new one with the same scopes; the old one stops working at once."""
    with transaction.atomic():
        if ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=False).exists():
            raise DomainError(
                "key_revoked", _("A revoked key cannot be rotated; create a new one.")
            )
        ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
        new, raw = create_key(key.source, scopes=key.scopes, name=key.name, by=by)
        audit.record(
            audit.Action.KEY_ROTATE,
            actor=by,
            target=key.source,
            key=f"{key.prefix}…",
            replaced_by=f"{new.prefix}…",
        )
        return new, raw
