"""Writing many rows' changed fields in one statement.

Django's ``bulk_update`` composes a ``CASE WHEN id = … THEN …`` per row and field, which costs
more Python than the database spends on it. On PostgreSQL ``update_rows`` sends each column
once: a value every row shares as one parameter (a sweep stamps the same status and time on
500 rows), the others as one array each, zipped by ``unnest``. The statement's text is then the
same whatever the batch size. Elsewhere it is ``bulk_update``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import connection as default_connection
from django.db import connections, models, router


def commit_without_waiting() -> None:
    """Let the current transaction's COMMIT return before its WAL reaches the disk (PostgreSQL;
    nothing elsewhere). For batches that make outbox messages (a journey sweep, a campaign
    chunk): a database crash can lose only the last moments of such batches, which the next
    sweep or chunk makes again under the same idempotency keys; and none of their messages can
    have gone out, since delivery first commits "sending" synchronously, which flushes every
    earlier commit with it."""
    if default_connection.vendor == "postgresql":
        with default_connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def update_rows(objs: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Write ``fields`` of saved model instances (all of one model), in primary-key order so
    concurrent batches lock rows in the same order."""
    if not objs:
        return
    model = type(objs[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        model._default_manager.using(alias).bulk_update(objs, fields)
        return
    meta = model._meta
    pk = meta.pk
    qn = connection.ops.quote_name
    rows = sorted(objs, key=lambda obj: obj.pk)
    shared: list[tuple[models.Field, Any]] = []
    varying: list[tuple[models.Field, list[Any]]] = [(pk, [obj.pk for obj in rows])]
    for name in fields:
        field = meta.get_field(name)
        values = [field.get_db_prep_save(getattr(obj, field.attname), connection) for obj in rows]
        if all(_same(value, values[0]) for value in values):
            shared.append((field, values[0]))
        else:
            varying.append((field, values))
    assignments = [f"{qn(field.column)} = %s::{field.db_type(connection)}" for field, _ in shared]
    assignments += [f"{qn(field.column)} = v.c{n}" for n, (field, _) in enumerate(varying) if n]
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field, _ in varying)
    names = ", ".join(f"c{n}" for n in range(len(varying)))
    with connection.cursor() as cursor:
        cursor.execute(
            # Only placeholders carry values; table and column names are the model's own.
            f"UPDATE {qn(meta.db_table)} AS t SET {', '.join(assignments)} "
            f"FROM unnest({arrays}) AS v({names}) WHERE t.{qn(pk.column)} = v.c0",
            [value for _, value in shared] + [values for _, values in varying],
        )


_SHAREABLE = (str, int, float, bool, Decimal, dt.date, dt.time, dt.timedelta, uuid.UUID)


def _same(a: Any, b: Any) -> bool:
    """Equal plain values (JSON wrappers and other adapters never count as shared)."""
    if a is None or b is None:
        return a is b
    return type(a) is type(b) and isinstance(a, _SHAREABLE) and a == b
