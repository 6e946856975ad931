"""customers_interaction becomes a table range-partitioned by month of occurred_at (PostgreSQL).

The model does not change: Django still sees one table with ``id`` as its primary key. In the
database, on PostgreSQL only:

* the parent is ``PARTITION BY RANGE (occurred_at)`` with a DEFAULT partition and one partition a
  month (``customers_interaction_YYYY_MM``, UTC month bounds) from the oldest row's month (at most
  ten years back) to three months ahead; ``customers.partitions.ensure_ahead`` adds the next ones;
* the primary key is (id, occurred_at): PostgreSQL wants the partition key in every unique index
  of a partitioned table. ids stay unique: they all come from the table's one identity sequence;
* the partial unique index on (source_id, message_id) cannot exist on a partitioned table without
  occurred_at, which would let a replay with another timestamp through. It becomes the primary key
  of a small unpartitioned table, ``customers_interaction_key``, kept by triggers on the parent
  (cloned onto every partition): an insert adds the key (a replay raises unique_violation in the
  same statement, under the same constraint name as before), a delete removes it, an update of
  source_id/message_id swaps it, a TRUNCATE of the parent empties it;
* indexes (same names) and foreign keys (same names) are on the parent; partitions inherit them;
  a plain index on (source_id, message_id) keeps the replay lookups by message id index probes.

SQLite keeps the plain table: both directions are no-ops there.
"""

from __future__ import annotations

import datetime as dt

from django.db import migrations

TABLE = "customers_interaction"
OLD = "customers_interaction_unpartitioned"
KEYS = "customers_interaction_key"
UNIQUE = "customers_interaction_message_id_unique"
# The replay lookups (record_interaction, the batch endpoint's duplicate check) find a row by
# (source, message_id); the unique index served them, this one (not unique) does now.
LOOKUP = "customers_interaction_message_id_lookup"
MONTHS_AHEAD = 3
MONTHS_BACK_AT_MOST = 120

KEY_FUNCTIONS = f"""
CREATE FUNCTION customers_interaction_key_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.source_id IS NOT NULL AND NEW.message_id <> '' THEN
        INSERT INTO {KEYS} (source_id, message_id) VALUES (NEW.source_id, NEW.message_id);
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION customers_interaction_key_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.source_id IS NOT NULL AND OLD.message_id <> '' THEN
        DELETE FROM {KEYS} WHERE source_id = OLD.source_id AND message_id = OLD.message_id;
    END IF;
    RETURN OLD;
END $$;

CREATE FUNCTION customers_interaction_key_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (OLD.source_id, OLD.message_id) IS DISTINCT FROM (NEW.source_id, NEW.message_id) THEN
        IF OLD.source_id IS NOT NULL AND OLD.message_id <> '' THEN
            DELETE FROM {KEYS} WHERE source_id = OLD.source_id AND message_id = OLD.message_id;
        END IF;
        IF NEW.source_id IS NOT NULL AND NEW.message_id <> '' THEN
            INSERT INTO {KEYS} (source_id, message_id) VALUES (NEW.source_id, NEW.message_id);
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION customers_interaction_key_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE {KEYS};
    RETURN NULL;
END $$;
"""

# BEFORE DELETE, not AFTER: an UPDATE that moves a row to another partition runs the BEFORE
# DELETE triggers on the old partition, then the BEFORE INSERT ones on the new (the key goes,
# then comes back), and no UPDATE trigger after; an AFTER DELETE would come too late.
KEY_TRIGGERS = f"""
CREATE TRIGGER customers_interaction_key_insert BEFORE INSERT ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION customers_interaction_key_insert();
CREATE TRIGGER customers_interaction_key_delete BEFORE DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION customers_interaction_key_delete();
CREATE TRIGGER customers_interaction_key_update AFTER UPDATE OF source_id, message_id ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION customers_interaction_key_update();
CREATE TRIGGER customers_interaction_key_truncate AFTER TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION customers_interaction_key_truncate();
"""

DROP_KEYS = f"""
DROP TABLE IF EXISTS {KEYS};
DROP FUNCTION IF EXISTS customers_interaction_key_insert() CASCADE;
DROP FUNCTION IF EXISTS customers_interaction_key_delete() CASCADE;
DROP FUNCTION IF EXISTS customers_interaction_key_update() CASCADE;
DROP FUNCTION IF EXISTS customers_interaction_key_truncate() CASCADE;
"""


def _month(value: dt.datetime | dt.date) -> dt.date:
    return dt.date(value.year, value.month, 1)


def _next(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _recipe(cursor, table: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The CREATE INDEX statements (but the primary key's and the message id's) and the foreign
    keys (name, definition) of ``table``, to give its replacement the same ones by name."""
    cursor.execute(
        """
        SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND c.relname NOT IN (%s, %s)
        ORDER BY c.relname
        """,
        [table, UNIQUE, LOOKUP],
    )
    indexes = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
        [table],
    )
    return indexes, list(cursor.fetchall())


def _retarget(statement: str, table: str) -> str:
    """An index definition read from ``table``, for TABLE instead."""
    for prefix in (f" ON ONLY public.{table} ", f" ON public.{table} ", f" ON ONLY {table} "):
        statement = statement.replace(prefix, f" ON {TABLE} ")
    return statement.replace(f" ON {table} ", f" ON {TABLE} ")


def _copy_shape(cursor, *, partitioned: bool) -> tuple[list[str], list[tuple[str, str]]]:
    """Rename TABLE to OLD and create TABLE anew with OLD's columns, defaults and identity."""
    cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
    recipe = _recipe(cursor, TABLE)
    cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
    cursor.execute(
        f"CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING IDENTITY "
        f"INCLUDING STORAGE INCLUDING COMMENTS)"
        + (" PARTITION BY RANGE (occurred_at)" if partitioned else "")
    )
    return recipe


def _finish(cursor, recipe: tuple[list[str], list[tuple[str, str]]], primary_key: str) -> None:
    """Move the rows, drop OLD, and give TABLE its key, indexes, foreign keys and sequence."""
    cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {OLD}")
    cursor.execute(f"DROP TABLE {OLD}")
    # LIKE … INCLUDING IDENTITY made a sequence of its own (…_id_seq1): give it the usual name.
    cursor.execute(f"SELECT pg_get_serial_sequence('{TABLE}', 'id')")
    (sequence,) = cursor.fetchone()
    if sequence and sequence.rsplit(".", 1)[-1].strip('"') != f"{TABLE}_id_seq":
        cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO {TABLE}_id_seq")
    indexes, foreign_keys = recipe
    cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY ({primary_key})")
    for statement in indexes:
        cursor.execute(_retarget(statement, TABLE))
    for name, definition in foreign_keys:
        cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')
    cursor.execute(
        f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), "
        f"COALESCE((SELECT max(id) FROM {TABLE}), 0) + 1, false)"
    )


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(%s)", [TABLE]
        )
        if cursor.fetchone() == ("p",):
            return  # partitioned already
        cursor.execute(f"SELECT min(occurred_at), now() FROM {TABLE}")
        oldest, now = cursor.fetchone()
        recipe = _copy_shape(cursor, partitioned=True)
        cursor.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")
        this_month = _month(now.astimezone(dt.UTC))
        floor = this_month
        for _ in range(MONTHS_BACK_AT_MOST):
            floor = dt.date(floor.year - (floor.month == 1), (floor.month - 2) % 12 + 1, 1)
        month = max(_month(oldest.astimezone(dt.UTC)), floor) if oldest else this_month
        month = min(month, this_month)
        last = this_month
        for _ in range(MONTHS_AHEAD):
            last = _next(last)
        while month <= last:
            cursor.execute(
                f"CREATE TABLE {TABLE}_{month:%Y_%m} PARTITION OF {TABLE} "
                f"FOR VALUES FROM ('{month:%Y-%m-%d} 00:00:00+00') "
                f"TO ('{_next(month):%Y-%m-%d} 00:00:00+00')"
            )
            month = _next(month)
        _finish(cursor, recipe, "id, occurred_at")
        cursor.execute(
            f"CREATE INDEX {LOOKUP} ON {TABLE} (source_id, message_id) WHERE message_id <> ''"
        )
        cursor.execute(
            f"CREATE TABLE {KEYS} (source_id bigint NOT NULL, message_id varchar(200) NOT NULL, "
            f"CONSTRAINT {UNIQUE} PRIMARY KEY (source_id, message_id))"
        )
        cursor.execute(
            f"INSERT INTO {KEYS} (source_id, message_id) SELECT source_id, message_id "
            f"FROM {TABLE} WHERE source_id IS NOT NULL AND message_id <> ''"
        )
        cursor.execute(KEY_FUNCTIONS)
        cursor.execute(KEY_TRIGGERS)
        cursor.execute(f"ANALYZE {TABLE}")


def unpartition(apps, schema_editor):
    """Back to one plain table holding the rows of the attached partitions (detached ones stay
    as they are: plain tables of their own)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(%s)", [TABLE])
        if cursor.fetchone() != ("p",):
            return
        recipe = _copy_shape(cursor, partitioned=False)
        cursor.execute(DROP_KEYS)
        _finish(cursor, recipe, "id")
    model = apps.get_model("customers", "Interaction")
    for constraint in model._meta.constraints:
        if constraint.name == UNIQUE:
            schema_editor.add_constraint(model, constraint)


class Migration(migrations.Migration):
    atomic = True

    dependencies = [
        ("customers", "0011_privacy"),
    ]

    operations = [migrations.RunPython(partition, unpartition, elidable=False)]
