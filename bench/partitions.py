"""Partitions benchmark: the timeline's first page on the monthly-partitioned interaction table
against the same rows in one plain table with the same indexes, and COPY into each.

    python bench/partitions.py            # 20,000,000 interactions over 36 months
    python bench/partitions.py --quick    # 1,000,000 interactions over 36 months
    python bench/partitions.py --quick --check   # CI: exit 1 on a gross regression

Needs PostgreSQL. The database is dropped and recreated at the start: BENCH_DATABASE_URL if set;
else the server of a PostgreSQL DATABASE_URL with ``_partitions`` appended to its database name;
else postgres://postgres@127.0.0.1:5432/crm_partitions.

The history's shape (the 100M-row production history, scaled): one heavy customer with 50,000
interactions; every other customer's count drawn from an exponential distribution with a mean
of 50 (most have a handful, a few have hundreds); times uniform over the last 36 months, rows
arriving in time order; 70% carry a (source, message_id) like tracked events do. The same rows
go by COPY, chunk by chunk, into ``customers_interaction`` (partitioned; the key trigger fires)
and into ``bench_interaction_plain`` (the table as it was before: unpartitioned, primary key on
id, a partial unique index on (source_id, message_id) instead of the partitioned table's plain
lookup index on those columns and key table). Then, for the first page (and a deep page),
median of N runs, interleaved:

* the timeline page as the admin's customer page gets it: ``customers.selectors.timeline()``
  (one query, its rows made into model instances), once on the partitioned table and once with
  the model pointed at the plain table — the headline figure, whose ratio the goal (≤ 2) is on;
* the selector's SQL alone through a bare cursor on each table, sent as the selector sends it:
  a prepared statement planned once per connection (config/prepared.py) — the database's
  share, goal ≤ 2 too;
* the same SQL planned at each run (client-side binding, how Django sends other queries, and
  ``DATABASE_PREPARED_STATEMENTS=0``): planning over ~40 partitions costs ~1.2 ms that one
  table does not, shown for comparison.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    bench_database_url,
    describe,
    postgres_missing,
    recreate_database,
    timings_ms,
)
from bench.figures import figure  # noqa: E402

GOAL_RATIO, CHECK_RATIO = 2.0, 4.0
MONTHS = 36
HEAVY = 50_000
MEAN = 50
KEYED = 0.7
SIZES = {"full": 20_000_000, "quick": 1_000_000}
CHUNK = 100_000
PLAIN = "bench_interaction_plain"
SORT_NODE = re.compile(r"^(->  )?(Incremental )?Sort$")
NAMES = ("Product Viewed", "Page Viewed", "Added to Cart", "Order Completed", "Email Opened")
CHANNELS = ("web", "app", "email", "sms", "phone", "store")
COLUMNS = (
    "id, customer_id, source_id, channel, type, direction, name, summary, occurred_at, "
    "received_at, properties, context, agent_id, message_id, case_id"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1M interactions instead of 20M")
    parser.add_argument("--check", action="store_true", help="exit 1 on a gross regression")
    args = parser.parse_args(argv)

    url = bench_database_url("partitions")
    if problem := recreate_database(url):
        return postgres_missing("partitions", problem, check=args.check)

    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    try:
        return run(quick=args.quick, check=args.check)
    except Exception as error:  # an error is a failed check, with its reason printed
        print(f"partitions benchmark: ERROR {type(error).__name__}: {error}")
        if not args.check:
            raise
        return 1


def plan_customers(total: int, rng: random.Random) -> list[int]:
    """Interactions per customer: the heavy one first, then exponential counts (mean MEAN)."""
    counts = [HEAVY]
    left = total - HEAVY
    while left > 0:
        count = min(left, max(1, int(rng.expovariate(1 / MEAN))))
        counts.append(count)
        left -= count
    return counts


def run(*, quick: bool, check: bool) -> int:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from config.prepared import prepared
    from customers import partitions, selectors
    from customers.models import Customer, Interaction, Source

    db = settings.DATABASES["default"]
    print(f"database: {db['HOST'] or 'socket'}:{db['PORT'] or 5432}/{db['NAME']} (recreated)")
    call_command("migrate", verbosity=0)
    if not partitions.supported():
        raise SystemExit("customers_interaction is not partitioned after migrate")

    total = SIZES["quick" if quick else "full"]
    rng = random.Random(20261123)
    counts = plan_customers(total, rng)
    now = dt.datetime.now(dt.UTC)
    first_month = partitions.add_months(partitions.month_of(now), -(MONTHS - 1))
    start = dt.datetime(first_month.year, first_month.month, 1, tzinfo=dt.UTC)
    span = (now - start).total_seconds()
    print(
        f"shape: {total:,} interactions, {len(counts):,} customers; heavy customer {HEAVY:,}; "
        f"others exponential, mean {MEAN} (median {statistics.median(counts[1:]):.0f}, "
        f"max {max(counts[1:]):,}); {MONTHS} months from {first_month:%Y-%m}; "
        f"{KEYED:.0%} with a message id"
    )

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO customers_customer (public_id, first_name, last_name, locale, time_zone,
                stage, traits, search_text, first_seen_at, last_seen_at, order_count,
                total_spent, created_at, updated_at)
            SELECT gen_random_uuid(), 'Bench', 'Customer ' || g, 'en', 'UTC', 'lead', '{}',
                '', now(), now(), 0, 0, now(), now()
            FROM generate_series(1, %s) g ORDER BY g
            RETURNING id
            """,
            [len(counts)],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
    source = Source.objects.create(name="bench-source", kind=Source.Kind.WEB)
    month = first_month
    while month <= partitions.month_of(now):
        partitions.create_month(month)
        month = partitions.add_months(month, 1)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {PLAIN} (LIKE customers_interaction INCLUDING DEFAULTS)")
        cursor.execute(f"ALTER TABLE {PLAIN} ADD PRIMARY KEY (id)")
        cursor.execute(
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = 'customers_interaction'::regclass AND NOT i.indisprimary"
        )
        for (statement,) in cursor.fetchall():
            name = statement.split(" INDEX ", 1)[1].split(" ", 1)[0]
            if name == "customers_interaction_message_id_lookup":
                continue  # the unique index below is the unpartitioned table's own lookup
            statement = statement.replace(f" {name} ", f" {PLAIN}_{name} ", 1)
            cursor.execute(
                statement.replace("ON ONLY public.customers_interaction ", f"ON {PLAIN} ")
            )
        cursor.execute(
            f"CREATE UNIQUE INDEX {PLAIN}_message_id ON {PLAIN} (source_id, message_id) "
            f"WHERE message_id <> ''"
        )

    # Rows in time order: each customer's rows are spread uniformly over the span.
    owners = [ids[index] for index, count in enumerate(counts) for _ in range(count)]
    rng.shuffle(owners)
    offsets = sorted(rng.random() * span for _ in range(total))
    copy_seconds = {"partitioned": 0.0, "plain": 0.0}
    started = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for chunk_start in range(0, total, CHUNK):
            lines = []
            for n in range(chunk_start, min(total, chunk_start + CHUNK)):
                at = (start + dt.timedelta(seconds=offsets[n])).isoformat()
                keyed = n % 10 < KEYED * 10
                lines.append(
                    f"{n + 1}\t{owners[n]}\t{source.pk if keyed else chr(92) + 'N'}\t"
                    f"{CHANNELS[n % 6]}\ttrack\tin\t{NAMES[n % 5]}\t{NAMES[n % 5]} {n}\t{at}\t"
                    f"{at}\t{{}}\t{{}}\t\\N\t{f'msg-{n}' if keyed else ''}\t\\N\n"
                )
            data = "".join(lines).encode()
            for table, label in (("customers_interaction", "partitioned"), (PLAIN, "plain")):
                began = time.perf_counter()
                with raw.copy(f"COPY {table} ({COLUMNS}) FROM STDIN") as copy:
                    copy.write(data)
                copy_seconds[label] += time.perf_counter() - began
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('customers_interaction', 'id'), %s)", [total]
        )
    seconds = time.perf_counter() - started
    print(f"seed: {total:,} rows into each table in {seconds:.0f} s (generation included)")
    rates = {label: total / spent for label, spent in copy_seconds.items()}
    print(
        f"COPY into the partitioned table (key trigger): {rates['partitioned']:,.0f} rows/s; "
        f"into the plain table (unique index): {rates['plain']:,.0f} rows/s"
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # what autovacuum would have done on a live database
        cursor.execute("ANALYZE customers_interaction")  # the parent: autovacuum skips it
        cursor.execute("SELECT count(*) FROM customers_interaction_key")
        key_count = cursor.fetchone()[0]
    attached = [p for p in partitions.partitions() if not p.is_default]
    print(f"partitions: {len(attached)} months + DEFAULT; {key_count:,} message-id keys")

    heavy = Customer.objects.get(pk=ids[0])
    median = statistics.median(counts[1:])
    typical_index = min(range(1, len(counts)), key=lambda i: abs(counts[i] - median))
    typical = Customer.objects.get(pk=ids[typical_index])

    def first_page_sql(customer: Customer, before: selectors.TimelineCursor | None = None) -> str:
        with CaptureQueriesContext(connection) as captured:
            selectors.timeline(customer, before=before)
        return captured[0]["sql"]

    def runner(sql: str, params: tuple, *, prepare: bool) -> Callable[[], None]:
        """The SQL with its parameters, prepared as the selector sends it or planned anew."""

        def call() -> None:
            with prepared() if prepare else nullcontext(), connection.cursor() as cursor:
                cursor.execute(sql, params)
                cursor.fetchall()

        return call

    def plan(bound: str, params: tuple) -> list[str]:
        """The plan PostgreSQL keeps for the prepared query (generic: made for any customer),
        the one every run after the first uses."""
        numbered = iter(range(1, len(params) + 1))
        statement = re.sub(r"%s", lambda _: f"${next(numbered)}", bound)
        with connection.cursor() as cursor:
            cursor.execute(f"PREPARE bench_page AS {statement}")
            cursor.execute(
                f"EXPLAIN (COSTS OFF) EXECUTE bench_page({', '.join(['%s'] * len(params))})",
                params,
            )
            lines = [row[0] for row in cursor.fetchall()]
            cursor.execute("DEALLOCATE bench_page")
        return lines

    def page(customer: Customer, before: selectors.TimelineCursor | None, table: str):  # type: ignore[no-untyped-def]
        """The selector itself, on the partitioned table or (the model pointed there for the
        call) on the plain one."""

        def point(name: str) -> None:
            Interaction._meta.db_table = name
            for model_field in Interaction._meta.concrete_fields:
                model_field.__dict__.pop("cached_col", None)  # columns name their table

        def call() -> None:
            kept = Interaction._meta.db_table
            point(table)
            try:
                selectors.timeline(customer, before=before)
            finally:
                point(kept)

        return call

    failures: list[str] = []
    ratios: dict[str, float] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT occurred_at, id FROM {PLAIN} WHERE customer_id = %s "
            f"ORDER BY occurred_at DESC, id DESC OFFSET %s LIMIT 1",
            [heavy.pk, HEAVY // 2],
        )
        deep_at, deep_pk = cursor.fetchone()
    cases = [
        (f"heavy customer ({HEAVY:,} rows), first page", heavy, None),
        (f"typical customer ({counts[typical_index]} rows), first page", typical, None),
        (
            f"heavy customer, page after row {HEAVY // 2:,}",
            heavy,
            selectors.TimelineCursor(occurred_at=deep_at, pk=deep_pk),
        ),
    ]
    runs = 20 if quick else 50
    for label, customer, before in cases:
        sql = first_page_sql(customer, before)
        plain_sql = sql.replace('"customers_interaction"', f'"{PLAIN}"')
        bound, params = selectors.timeline_query(customer, before=before).query.sql_with_params()
        plain_bound = bound.replace('"customers_interaction"', f'"{PLAIN}"')
        lines = plan(bound, params)
        shape = [line.strip() for line in lines if "Append" in line]
        if sorts := [line for line in lines if SORT_NODE.match(line.strip())]:
            failures.append(f"{label}: the plan sorts the history ({sorts})")
        scans = sum("Index Scan" in line or "Index Only Scan" in line for line in lines)
        with connection.cursor() as cursor:
            cursor.execute(sql)
            partitioned_rows = cursor.fetchall()
            cursor.execute(plain_sql)
            plain_rows = cursor.fetchall()
        if [row[0] for row in partitioned_rows] != [row[0] for row in plain_rows]:
            failures.append(f"{label}: the two tables return different pages")
        timings = timings_ms(
            runner(bound, params, prepare=True),
            runner(plain_bound, params, prepare=True),
            runner(bound, params, prepare=False),
            runner(plain_bound, params, prepare=False),
            page(customer, before, "customers_interaction"),
            page(customer, before, PLAIN),
            runs=runs,
        )
        part_times, plain_times, part_planned_times, plain_planned_times = timings[:4]
        part_page_times, plain_page_times = timings[4:]
        part_ms, plain_ms = statistics.median(part_times), statistics.median(plain_times)
        sql_ratio = part_ms / plain_ms
        planned_ms = statistics.median(part_planned_times)
        plain_planned_ms = statistics.median(plain_planned_times)
        planned_ratio = planned_ms / plain_planned_ms
        page_ms, plain_page_ms = (
            statistics.median(part_page_times),
            statistics.median(plain_page_times),
        )
        ratio = page_ms / plain_page_ms
        ratios[label] = ratio
        print(f"{label}:")
        print(
            f"  plan kept for the prepared query: {shape[0] if shape else lines[0]}, "
            f"{scans} index scans, no Sort node"
        )
        print(f"  the page (selectors.timeline), partitioned:   {describe(part_page_times)}")
        print(f"  the page (selectors.timeline), unpartitioned: {describe(plain_page_times)}")
        print(f"  its SQL alone, prepared, partitioned:   {describe(part_times)}")
        print(f"  its SQL alone, prepared, unpartitioned: {describe(plain_times)}")
        print(f"  its SQL planned at each run, partitioned:   {describe(part_planned_times)}")
        print(f"  its SQL planned at each run, unpartitioned: {describe(plain_planned_times)}")
        print(
            f"  partitioned / unpartitioned: the page {ratio:.2f} (goal ≤ {GOAL_RATIO:g}), "
            f"its SQL alone {sql_ratio:.2f} (goal ≤ {GOAL_RATIO:g}), "
            f"planned at each run {planned_ratio:.2f}"
        )
        figure(
            f"partitions: timeline page, {label}",
            f"{page_ms:.2f} ms",
            ratio=ratio,
            reference=f"the same page unpartitioned ({plain_page_ms:.2f} ms)",
            goal=f"ratio ≤ {GOAL_RATIO:g}",
            met=ratio <= GOAL_RATIO,
        )
        figure(
            f"partitions: its SQL alone (prepared), {label}",
            f"{part_ms:.2f} ms",
            ratio=sql_ratio,
            reference=f"the same SQL unpartitioned ({plain_ms:.2f} ms)",
            goal=f"ratio ≤ {GOAL_RATIO:g}",
            met=sql_ratio <= GOAL_RATIO,
        )
        figure(
            f"partitions: its SQL planned at each run, {label}",
            f"{planned_ms:.2f} ms",
            ratio=planned_ratio,
            reference=f"the same SQL unpartitioned ({plain_planned_ms:.2f} ms)",
        )
        if ratio > CHECK_RATIO or sql_ratio > CHECK_RATIO:
            failures.append(
                f"{label}: ratio {ratio:.2f} (page), {sql_ratio:.2f} (SQL) (> {CHECK_RATIO:g})"
            )
    copy_ratio = rates["partitioned"] / rates["plain"]
    figure(
        "partitions: COPY into the partitioned table",
        f"{rates['partitioned']:,.0f} rows/s",
        ratio=copy_ratio,
        reference=f"COPY into the plain table ({rates['plain']:,.0f} rows/s)",
    )
    if not check:
        return 0
    if failures:
        print("check: FAILED: " + "; ".join(failures))
        return 1
    print("check: ok (fails only on gross regressions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
