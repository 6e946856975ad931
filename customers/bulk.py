"""Writing many rows' changed fields in one statement.

Django's ``bulk_update`` composes a ``CASE WHEN id = … THEN …`` per row and field, which costs
more Python than the database spends on it; on PostgreSQL ``update_rows`` sends the values as
one ``UPDATE … FROM (VALUES …)`` instead. Elsewhere it is ``bulk_update``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections, models, router


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
    columns = [meta.get_field(name) for name in fields]
    qn = connection.ops.quote_name
    casts = ", ".join(f"%s::{field.db_type(connection)}" for field in [pk, *columns])
    params: list[Any] = []
    for obj in sorted(objs, key=lambda obj: obj.pk):
        params.append(obj.pk)
        for field in columns:
            value = getattr(obj, field.attname)
            params.append(field.get_db_prep_save(value, connection))
    names = ", ".join(qn(f"v{i}") for i in range(len(columns) + 1))
    assignments = ", ".join(
        f"{qn(field.column)} = v.{qn(f'v{i + 1}')}" for i, field in enumerate(columns)
    )
    values = ", ".join([f"({casts})"] * len(objs))
    with connection.cursor() as cursor:
        cursor.execute(
            # Only placeholders carry values; table and column names are the model's own.
            f"UPDATE {qn(meta.db_table)} AS t SET {assignments} "
            f"FROM (VALUES {values}) AS v({names}) WHERE t.{qn(pk.column)} = v.{qn('v0')}",
            params,
        )
