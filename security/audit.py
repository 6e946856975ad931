"""Write the audit log. Call ``record`` inside the transaction of the action it describes, so
the entry exists exactly when the action happened.

    audit.record(AuditEntry.Action.EXPORT, request=request, target=customer, format="json")
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest

from security.models import AuditEntry

Action = AuditEntry.Action


def _client_ip(request: HttpRequest) -> str | None:
    # Behind the proxy the settings trust (SECURE_PROXY_SSL_HEADER), REMOTE_ADDR is the proxy;
    # the audit keeps what Django saw, not a header a client can write.
    return request.META.get("REMOTE_ADDR") or None


def record(
    action: str,
    *,
    actor: Any = None,
    request: HttpRequest | None = None,
    target: models.Model | None = None,
    actor_label: str = "",
    **details: Any,
) -> AuditEntry:
    """Append one entry. The actor is ``actor`` (a user), else the request's signed-in user,
    else whatever ``actor_label`` says (an API key, "system")."""
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = user
    if not actor_label:
        actor_label = actor.get_username() if actor is not None else "system"
    entry = AuditEntry(
        action=action,
        actor=actor,
        actor_label=actor_label[:150],
        details=details,
        ip=_client_ip(request) if request is not None else None,
    )
    if target is not None:
        entry.target_type = target._meta.label_lower
        entry.target_id = str(target.pk)
        entry.target_label = str(target)[:200]
    entry.save()
    return entry


def entries_for(target: models.Model) -> models.QuerySet[AuditEntry]:
    """The audit trail of one object, newest first."""
    return AuditEntry.objects.filter(
        target_type=target._meta.label_lower, target_id=str(target.pk)
    ).select_related("actor")
