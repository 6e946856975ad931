"""Reads that may go to a read replica (``DATABASE_REPLICA_URL``), and everything else to the
primary.

Nothing reads the replica unless the work in hand says it is a replica-safe read: a staff
page that only reports (config/replica.py marks those requests) or code inside
``read_from_replica()``. Even then a read goes to the primary when

* no ``replica`` database is configured (the router is then a no-op),
* it runs inside a transaction on the primary (``transaction.atomic()``): a transaction reads
  in order to write, and must see its own writes and the rows it is about to change,
* it reads sessions, users, groups and permissions, second-factor devices, lockouts, admin log
  entries, content types or one-time verification codes (``PRIMARY_ONLY``): they are read on
  every page, and were usually written a moment before on the primary (a sign-in, a new
  device, a role change), so a lagging replica would sign the user out or grant a revoked
  permission,
* the replica failed to answer less than ``DATABASE_REPLICA_RETRY_SECONDS`` ago
  (``replica_failed()``, called by config/replica.py when a page's read there fails).

Writes always go to the primary; migrations run there only (a streaming replica copies them).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

REPLICA = "replica"

# Models read on every request that were just written on the primary (app label, or
# "app_label.model_name").
PRIMARY_ONLY = frozenset(
    {
        "sessions",
        "auth",
        "contenttypes",
        "admin",  # LogEntry: "recent actions", what this user just did
        "otp_totp",
        "otp_static",
        "axes",
        "security.verificationcode",
    }
)

_replica_safe: ContextVar[bool] = ContextVar("replica_safe", default=False)
# time.monotonic() before which this process reads nothing from the replica (it just failed).
_replica_down_until = 0.0


@contextmanager
def read_from_replica() -> Iterator[None]:
    """Reads in this block (outside a transaction) go to the replica, if one is configured:
    for reports and exports that can live with a replica's lag (seconds at most)."""
    token = _replica_safe.set(True)
    try:
        yield
    finally:
        _replica_safe.reset(token)


def replica_configured() -> bool:
    return REPLICA in connections.settings


def replica_failed() -> None:
    """The replica did not answer: this process reads the primary for the next
    ``DATABASE_REPLICA_RETRY_SECONDS``, then tries the replica again."""
    global _replica_down_until
    _replica_down_until = time.monotonic() + settings.DATABASE_REPLICA_RETRY_SECONDS
    try:
        connections[REPLICA].close()
    except Exception:  # a connection that broke may fail to close; it is dropped either way
        connections[REPLICA].connection = None


def replica_up() -> bool:
    return time.monotonic() >= _replica_down_until


def _in_transaction() -> bool:
    """A transaction open on the primary: an atomic block (not the one a test case wraps each
    test in), or autocommit switched off by hand."""
    connection = connections[DEFAULT_DB_ALIAS]
    blocks = connection.atomic_blocks
    if any(not getattr(block, "_from_testcase", False) for block in blocks):
        return True
    return not blocks and connection.connection is not None and not connection.autocommit


def _primary_only(model: type[Model]) -> bool:
    meta = model._meta
    return meta.app_label in PRIMARY_ONLY or meta.label_lower in PRIMARY_ONLY


def reads_from_replica(model: type[Model]) -> bool:
    """Whether a read of ``model`` made now goes to the replica."""
    return (
        _replica_safe.get()
        and replica_configured()
        and not _primary_only(model)
        and not _in_transaction()
        and replica_up()
    )


class ReplicaRouter:
    """Django's database router (settings.DATABASE_ROUTERS); see the module's docstring."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        if not replica_configured():
            return None  # one database: Django's own choice
        return REPLICA if reads_from_replica(model) else DEFAULT_DB_ALIAS

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        # The replica holds the same rows: an object read there may point to one from the
        # primary.
        pair = {obj1._state.db or DEFAULT_DB_ALIAS, obj2._state.db or DEFAULT_DB_ALIAS}
        return True if pair <= {DEFAULT_DB_ALIAS, REPLICA} else None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if db == REPLICA else None
