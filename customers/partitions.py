"""The monthly partitions of the interaction table (PostgreSQL; migration 0012 made them).

``customers_interaction`` is range-partitioned on ``occurred_at`` by UTC month, with a DEFAULT
partition for rows no month partition takes. ``ensure_ahead`` creates the coming months (a daily
Celery beat task and ``manage.py interaction_partitions --ahead N``), moving any row the DEFAULT
partition already holds for such a month into it; ``detach_before`` detaches whole old months,
which stay plain tables for ``pg_dump`` and for the operator to drop. SQLite keeps one plain
table: everything here is then a no-op (``supported()`` is False).

Uniqueness of (source, message_id) lives in ``customers_interaction_key``, kept by triggers (see
the migration). A row moved here by hand (DEFAULT → month) is deleted and inserted outside the
parent, so its key is taken back explicitly; a detached month's keys are forgotten with it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

TABLE = "customers_interaction"
DEFAULT = f"{TABLE}_default"
KEYS = f"{TABLE}_key"
DEFAULT_AHEAD = 3
# Held while partitions are created or detached: two runs (the beat task and the command) take
# turns instead of racing on the same month.
LOCK_ID = 0x1A7E_9A27
# How long DDL waits for a lock on the parent before giving up (to run again later) rather than
# queueing every reader of the timeline behind it.
LOCK_TIMEOUT = "10s"
KEY_BATCH = 10_000

_BOUND = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


@dataclass(frozen=True)
class Partition:
    name: str
    start: dt.date | None  # first day of the month it holds; None for DEFAULT
    end: dt.date | None  # first day of the month after
    rows: int  # PostgreSQL's estimate (exact for DEFAULT)
    bytes: int

    @property
    def is_default(self) -> bool:
        return self.start is None

    @property
    def label(self) -> str:
        return "DEFAULT" if self.start is None else f"{self.start:%Y-%m}"


def supported() -> bool:
    """True when the interaction table is partitioned (PostgreSQL after migration 0012)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        return cursor.fetchone() == ("p",)


def unsupported_reason() -> str:
    if connection.vendor != "postgresql":
        message = _("The interaction table is partitioned on PostgreSQL only; this database is %s.")
        return message % connection.vendor
    return _("The interaction table is not partitioned (migration customers 0012 not applied).")


def month_of(value: dt.date | dt.datetime) -> dt.date:
    """The first day of the (UTC) month of ``value``."""
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC) if timezone.is_aware(value) else value
    return dt.date(value.year, value.month, 1)


def add_months(month: dt.date, count: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


def parse_month(text: str) -> dt.date:
    """``YYYY-MM`` as the first day of that month; ValueError otherwise."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise ValueError(_("Expected a month as YYYY-MM, got %r.") % text)
    return dt.date(int(match[1]), int(match[2]), 1)


def _bound(text: str) -> dt.date:
    return month_of(dt.datetime.fromisoformat(text.replace(" ", "T")))


def partitions(*, count_default: bool = True) -> list[Partition]:
    """The attached partitions, oldest month first, DEFAULT last ([] when not supported).
    Rows are PostgreSQL's estimates, but DEFAULT's, counted (unless ``count_default=False``)."""
    if not supported():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), c.reltuples::bigint,
                   pg_total_relation_size(c.oid)
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = %s::regclass
            """,
            [TABLE],
        )
        found = cursor.fetchall()
        result = []
        for name, bound, estimate, size in found:
            if bound == "DEFAULT":
                rows = max(estimate, 0)
                if count_default:
                    cursor.execute(f'SELECT count(*) FROM "{name}"')
                    rows = cursor.fetchone()[0]
                result.append(Partition(name, None, None, rows, size))
                continue
            match = _BOUND.search(bound)
            if match is None:  # not one of ours (MINVALUE…): never touched
                continue
            start, end = _bound(match[1]), _bound(match[2])
            result.append(Partition(name, start, end, max(estimate, 0), size))
    return sorted(result, key=lambda p: (p.start is None, p.start or dt.date.min))


def default_months() -> list[dt.date]:
    """The months of the rows sitting in the DEFAULT partition (what ``absorb_default`` moves)."""
    if not supported():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date "
            f"FROM {DEFAULT} ORDER BY 1"
        )
        return [row[0] for row in cursor.fetchall()]


def ensure_ahead(months: int = DEFAULT_AHEAD, *, today: dt.date | None = None) -> list[str]:
    """Create the partitions of this month and the ``months`` after it that are missing; the
    names created (none when all exist, or when not supported)."""
    if months < 0:
        raise ValueError(_("The number of months ahead cannot be negative."))
    if not supported():
        return []
    first = month_of(today or timezone.now())
    created = []
    for offset in range(months + 1):
        if name := create_month(add_months(first, offset)):
            created.append(name)
    return created


def analyze() -> None:
    """ANALYZE the parent table. Autovacuum analyzes the partitions but never a partitioned
    parent, whose statistics the planner uses for the whole table (and the admin's estimated
    count reads); the daily task refreshes them."""
    if supported():
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {TABLE}")


def absorb_default() -> list[str]:
    """Create a partition for every month the DEFAULT partition holds rows of, moving them."""
    return [name for month in default_months() if (name := create_month(month))]


def create_month(month: dt.date) -> str | None:
    """Create and attach the partition of ``month``; None when a partition covers it already.

    The new table is filled with the month's rows from DEFAULT (deleted there in the same
    statement) before it is attached, so ATTACH finds DEFAULT free of that range; inserts that
    would land in DEFAULT wait meanwhile (a lock on DEFAULT only, not on the table)."""
    month = month_of(month)
    end = add_months(month, 1)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_ID])
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        if any(
            p.start is not None and p.start < end and p.end > month  # type: ignore[operator]
            for p in partitions(count_default=False)
        ):
            return None
        name = _free_name(cursor, f"{TABLE}_{month:%Y_%m}")
        columns = ", ".join(f'"{column}"' for column in _columns(cursor))
        lower, upper = f"{month:%Y-%m-%d} 00:00:00+00", f"{end:%Y-%m-%d} 00:00:00+00"
        cursor.execute(f"LOCK TABLE {DEFAULT} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(
            f'CREATE TABLE "{name}" (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING STORAGE '
            f"INCLUDING COMMENTS)"
        )
        # Deleting from DEFAULT runs its key trigger (the keys go); they come back below.
        cursor.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE occurred_at >= %s AND occurred_at < %s "
            f'RETURNING {columns}) INSERT INTO "{name}" ({columns}) SELECT {columns} FROM moved',
            [lower, upper],
        )
        moved = cursor.rowcount
        cursor.execute(
            f'ALTER TABLE {TABLE} ATTACH PARTITION "{name}" '
            f"FOR VALUES FROM ('{lower}') TO ('{upper}')"
        )
        if moved:
            cursor.execute(
                f"INSERT INTO {KEYS} (source_id, message_id) SELECT source_id, message_id "
                f"FROM \"{name}\" WHERE source_id IS NOT NULL AND message_id <> ''"
            )
            cursor.execute(f'ANALYZE "{name}"')
    return name


def detach_before(month: dt.date, *, today: dt.date | None = None) -> list[str]:
    """Detach every month partition wholly before ``month``; the detached table names, oldest
    first. They stay as plain tables (no triggers, no foreign keys) for pg_dump, and their
    (source, message_id) keys are forgotten: the rows are no longer on any timeline."""
    month = month_of(month)
    if month > month_of(today or timezone.now()):
        raise ValueError(_("Only months before the current one can be detached."))
    if not supported():
        return []
    detached = []
    for part in partitions(count_default=False):
        if part.end is None or part.end > month:
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_ID])
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            # Not CONCURRENTLY: PostgreSQL refuses it while a DEFAULT partition exists. The
            # plain DETACH holds the parent's lock until this (short) transaction commits.
            cursor.execute(f'ALTER TABLE {TABLE} DETACH PARTITION "{part.name}"')
            cursor.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
                [part.name],
            )
            for (constraint,) in cursor.fetchall():
                # An archive must not stop a customer's deletion, nor hold a lock on them.
                cursor.execute(f'ALTER TABLE "{part.name}" DROP CONSTRAINT "{constraint}"')
        forget_keys(part.name)
        detached.append(part.name)
    return detached


def forget_keys(table: str) -> int:
    """Delete the (source, message_id) keys of a detached table's rows, in batches (rerun it if
    a detach stopped between the two steps); the number deleted."""
    if not supported():
        return 0
    deleted = 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        if not cursor.fetchone()[0]:
            raise ValueError(_("No table named %s.") % table)
        cursor.execute(
            "SELECT EXISTS (SELECT FROM pg_inherits WHERE inhrelid = %s::regclass)", [table]
        )
        if cursor.fetchone()[0]:
            raise ValueError(_("%s is still attached; its keys are in use.") % table)
        last: tuple[int, str] | None = None
        while True:
            with transaction.atomic():
                cursor.execute(
                    f"""
                    WITH batch AS (
                        SELECT source_id, message_id FROM "{table}"
                        WHERE source_id IS NOT NULL AND message_id <> ''
                          AND (%s::bigint IS NULL OR (source_id, message_id) > (%s, %s))
                        ORDER BY source_id, message_id LIMIT {KEY_BATCH}
                    ), gone AS (
                        DELETE FROM {KEYS} k USING batch b
                        WHERE k.source_id = b.source_id AND k.message_id = b.message_id
                    )
                    SELECT source_id, message_id, count(*) OVER () FROM batch
                    ORDER BY source_id DESC, message_id DESC LIMIT 1
                    """,
                    [last and last[0], last and last[0], last and last[1]],
                )
                row = cursor.fetchone()
            if row is None:
                return deleted
            last = (row[0], row[1])
            deleted += row[2]


def _columns(cursor) -> list[str]:
    cursor.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum",
        [TABLE],
    )
    return [row[0] for row in cursor.fetchall()]


def _free_name(cursor, name: str) -> str:
    """``name``, or ``name_2``… when a table (an archived month, say) already has it."""
    candidate, n = name, 1
    while True:
        cursor.execute("SELECT to_regclass(%s) IS NULL", [f'"{candidate}"'])
        if cursor.fetchone()[0]:
            return candidate
        n += 1
        candidate = f"{name}_{n}"
