"""Insights dashboard benchmark: the admin page of every KPI on a 1M-customer database.

    python bench/dashboard.py                  # 1,000,000 customers
    python bench/dashboard.py --quick          # 100,000 customers
    python bench/dashboard.py --quick --check  # CI: exit 1 only on a gross regression
    python bench/dashboard.py --reuse          # time again on the database seeded last time

Needs PostgreSQL (suffix ``dashboard_bench``; dropped and made anew). Seeds with COPY, over the
last 365 days: customers with 0–3 orders each (stages and order aggregates to match), orders on
web, app, store and phone; a converted cart for most orders and a live cart for 40% of
customers, one line each; 3 timeline touchpoints per customer over eight channels, inbound and
outbound, plus each order's ``Order Completed``; a support case for one customer in ten (first
response minutes to days later for 90% of them, a CSAT answer for 40%); an abandoned-cart
enrollment for one in five, one in seven of them recovered. Rows go in in time order, as a live
database writes them. With ``--reuse``, a database that already holds customers is kept (seeding
1M takes ~13 min): new migrations are applied, then VACUUM ANALYZE, and only the timing runs
(``--quick`` is then ignored: the data is whatever was seeded).

Then renders /admin/insights/dashboard/ through Django's test client as a logged-in superuser
(production settings, after one warm-up render): the default view (last 30 days, all channels),
a channel, and a whole year, printing queries and server time of each against the goals, and
the time of each figure's selector.

Goals (issue 7): ≤ 30 queries and ≤ 2 s server time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    bench_database_url,
    copy_rows,
    postgres_missing,
    recreate_database,
)
from bench.figures import figure as print_figure  # noqa: E402

SIZES = {"full": 1_000_000, "quick": 100_000}
GOAL_QUERIES, GOAL_SECONDS = 30, 2.0
# --check fails only far beyond the goals: a gross regression, not a noisy machine.
CHECK_QUERIES, CHECK_SECONDS = 30, 20.0

ORDER_CHANNELS = ["web"] * 10 + ["app"] * 5 + ["store"] * 4 + ["phone"]
TOUCHES = [
    ("web", "in", "page", "Product Viewed"),
    ("app", "in", "screen", "Product Viewed"),
    ("email", "out", "message", "Message Sent"),
    ("sms", "out", "message", "Message Sent"),
    ("phone", "in", "call", "Call"),
    ("store", "in", "visit", "Store Visit"),
    ("chat", "in", "chat", "Chat"),
    ("whatsapp", "in", "message", "Message Received"),
]
YEAR = 365 * 24 * 3600


def seed(count: int) -> dict[str, int]:
    """COPY the population described in the module docstring; returns rows per table."""
    from django.db import connection
    from django.utils import timezone

    from journeys.models import Journey

    rnd = random.Random(7)
    now = timezone.now()
    ago = [now - dt.timedelta(seconds=s) for s in range(0, YEAR, 60)]  # minute resolution

    def when() -> dt.datetime:
        return ago[rnd.randrange(len(ago))]

    journey_id = Journey.objects.get(key="abandoned_cart").pk
    rows: dict[str, int] = {}
    with connection.cursor() as cursor:
        raw = cursor.connection.cursor()
        raw.execute("SELECT nextval('customers_customer_id_seq')")
        first = raw.fetchone()[0] + 1
        ids = range(first, first + count)
        orders: list[tuple[int, int, str, Decimal, dt.datetime]] = []  # id, customer, ch, total, at
        customers = []
        for i in ids:
            placed = sorted((when() for _ in range(rnd.choice((0, 0, 1, 1, 2, 3)))), reverse=False)
            spent = Decimal(0)
            for at in placed:
                total = Decimal(rnd.randrange(500, 50_000)) / 100
                spent += total
                orders.append((0, i, rnd.choice(ORDER_CHANNELS), total, at))
            n = len(placed)
            stage = ("awareness" if i % 2 else "consideration") if n == 0 else "purchase"
            if n >= 2:
                stage = "advocacy" if i % 10 == 0 else "retention"
            seen = when()
            customers.append((
                i, uuid.uuid4(), "Bench", "", "en", "Asia/Tehran", stage, "{}", "", seen, seen,
                n, spent, placed[0] if placed else None, placed[-1] if placed else None, seen, now,
            ))  # fmt: skip
        copy_rows(
            raw,
            "customers_customer",
            "id, public_id, first_name, last_name, locale, time_zone, stage, traits, search_text,"
            " first_seen_at, last_seen_at, order_count, total_spent, first_order_at,"
            " last_order_at, created_at, updated_at",
            customers,
        )
        raw.execute(f"SELECT setval('customers_customer_id_seq', {first + count})")
        rows["customers"] = count
        del customers
        # A live database writes rows as things happen: in time order on the heap, which is
        # what the period indexes' heap visits rely on. Seed the same way.
        orders.sort(key=lambda o: o[4])
        orders = [(n, *o[1:]) for n, o in enumerate(orders, 1)]
        copy_rows(
            raw,
            "commerce_order",
            "id, customer_id, external_id, channel, currency, subtotal, discount, tax, shipping,"
            " total, coupon, placed_at, created_at",
            ((oid, c, f"B-{oid}", ch, "IRR", t, 0, 0, 0, t, "", at, at)
             for oid, c, ch, t, at in orders),
        )  # fmt: skip
        raw.execute(f"SELECT setval('commerce_order_id_seq', {len(orders) + 1})")
        rows["orders"] = len(orders)

        # Carts: a converted one behind 70% of the orders, a live one for 40% of customers.
        carts = []
        for oid, c, ch, _, at in orders:
            if rnd.random() < 0.7:
                started_on = ch if ch in ("web", "app") else rnd.choice(("web", "app"))
                carts.append((c, "converted", at - dt.timedelta(hours=1), at, oid, started_on))
        live = [(c, "active", when(), None, None, rnd.choice(("web", "app"))) for c in ids
                if rnd.random() < 0.4]  # fmt: skip
        carts += live
        carts.sort(key=lambda c: c[2])
        copy_rows(
            raw,
            "commerce_cart",
            "id, customer_id, status, currency, created_at, changed_at, converted_at, order_id",
            ((n, c, s, "IRR", at, at, conv, oid) for n, (c, s, at, conv, oid, _) in
             enumerate(carts, 1)),
        )  # fmt: skip
        raw.execute(f"SELECT setval('commerce_cart_id_seq', {len(carts) + 1})")
        copy_rows(
            raw,
            "commerce_cartline",
            "cart_id, sku, name, price, quantity, channel, added_at",
            ((n, "SKU-1", "Bench", 10, 1, ch, at) for n, (_, _, at, _, _, ch) in
             enumerate(carts, 1)),
        )  # fmt: skip
        rows["carts"] = len(carts)

        def touches():  # type: ignore[no-untyped-def]
            for i in ids:
                for _ in range(3):
                    channel, direction, kind, name = rnd.choice(TOUCHES)
                    yield (i, channel, kind, direction, name, "", when(), now, "{}", "{}", "")
            for _, c, ch, _, at in orders:
                yield (c, ch, "order", "in", "Order Completed", "", at, now, "{}", "{}", "")

        copy_rows(
            raw,
            "customers_interaction",
            "customer_id, channel, type, direction, name, summary, occurred_at, received_at,"
            " properties, context, message_id",
            sorted(touches(), key=lambda row: row[6]),
        )
        rows["interactions"] = 3 * count + len(orders)

        def cases():  # type: ignore[no-untyped-def]
            for i in ids:
                if i % 10:
                    continue
                opened = when()
                answered = (opened + dt.timedelta(minutes=rnd.lognormvariate(4, 1.5))
                            if rnd.random() < 0.9 else None)  # fmt: skip
                score = (
                    rnd.choice((1, 2, 3, 4, 4, 5, 5, 5))
                    if answered and rnd.random() < 0.4
                    else None
                )
                resolved = answered + dt.timedelta(hours=2) if answered else None
                yield (
                    i, "Bench case", rnd.choice(("email", "phone", "chat", "whatsapp")),
                    "resolved" if answered else "open", 2, opened, answered, resolved,
                    resolved, score, "", resolved if score else None, now,
                )  # fmt: skip

        copy_rows(
            raw,
            "customers_case",
            "customer_id, subject, channel, status, priority, opened_at, first_response_at,"
            " resolved_at, csat_requested_at, csat_score, csat_comment, csat_answered_at,"
            " updated_at",
            sorted(cases(), key=lambda row: row[5]),
        )
        rows["cases"] = count // 10

        def enrollments():  # type: ignore[no-untyped-def]
            for i in ids:
                if i % 5:
                    continue
                entered = when()
                sent = rnd.choice((0, 1, 2, 2))
                won = sent and rnd.random() < 1 / 7
                yield (
                    journey_id, i, f"cart:{i}", "{}", "completed", "", 2, None, entered,
                    entered, entered, sent, entered + dt.timedelta(hours=5) if won else None,
                    Decimal(rnd.randrange(500, 50_000)) / 100 if won else None,
                )  # fmt: skip

        copy_rows(
            raw,
            "journeys_enrollment",
            "journey_id, customer_id, context_key, context, status, reason, step, next_run_at,"
            " entered_at, updated_at, finished_at, messages_sent, converted_at, revenue",
            sorted(enrollments(), key=lambda row: row[8]),
        )
        rows["enrollments"] = count // 5
        # As autovacuum leaves a live table: statistics and the visibility map.
        raw.execute("VACUUM (ANALYZE)")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 customers instead of 1M")
    parser.add_argument("--check", action="store_true", help="exit 1 on a gross regression")
    parser.add_argument(
        "--reuse", action="store_true", help="keep an already seeded database; only migrate+time"
    )
    args = parser.parse_args(argv)
    count = SIZES["quick" if args.quick else "full"]

    url = bench_database_url("dashboard_bench")
    reused = args.reuse and _seeded(url)
    if not reused and (problem := recreate_database(url)):
        return postgres_missing("dashboard", problem, check=args.check)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from customers.models import Customer
    from insights.dashboard import FIGURES, DashboardFilter

    call_command("migrate", verbosity=0)
    if reused:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        print(
            f"database: {url.rsplit('/', 1)[-1]} (reused, migrated, vacuumed); machine: "
            f"{os.cpu_count()} cores; {Customer.objects.count():,} customers"
        )
    else:
        started = time.perf_counter()
        rows = seed(count)
        print(
            f"database: {url.rsplit('/', 1)[-1]} (recreated); machine: {os.cpu_count()} cores; "
            f"seeded in {time.perf_counter() - started:.0f} s: "
            + ", ".join(f"{n:,} {table}" for table, n in rows.items())
        )

    # Production settings (no debug cursor), and not setup_test_environment(): its template
    # instrumentation would be measured as server time.
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    users = get_user_model().objects
    user = users.filter(username="bench-admin").first() or users.create_superuser(
        "bench-admin", "bench@example.com", None
    )
    client = Client()
    client.force_login(user)
    path = "/admin/insights/dashboard/"
    today = timezone.localdate()
    views = [
        ("last 30 days, all channels (default)", {}),
        ("last 30 days, web", {"channel": "web"}),
        ("a whole year, all channels", {"start": str(today - dt.timedelta(days=364))}),
    ]
    # The reference: the rows each view covers read once by hand-written SQL (orders and their
    # revenue, interactions per channel and direction), the least any dashboard must do.
    reference_sql = """
        SELECT (SELECT count(*) FROM commerce_order WHERE placed_at >= %(since)s),
               (SELECT sum(total) FROM commerce_order WHERE placed_at >= %(since)s),
               (SELECT count(*) FROM (SELECT channel, direction, count(*)
                  FROM customers_interaction WHERE occurred_at >= %(since)s
                  GROUP BY channel, direction) AS mix)
    """
    reference_days = {"last 30 days, all channels (default)": 30, "a whole year, all channels": 365}
    problems: list[str] = []
    for label, query in views:
        response = client.get(path, query)  # warm-up: templates, plan caches, buffers
        if response.status_code != 200:
            problems.append(f"{label}: HTTP {response.status_code}")
            print(f"dashboard ({label}): HTTP {response.status_code}")
            continue
        with CaptureQueriesContext(connection) as captured:
            client.get(path, query)
        queries = len(captured)
        times = []
        for _ in range(3):
            begun = time.perf_counter()
            client.get(path, query)
            times.append(time.perf_counter() - begun)
        seconds = statistics.median(times)
        verdict = "ok" if queries <= GOAL_QUERIES and seconds <= GOAL_SECONDS else "missed"
        print(
            f"dashboard ({label}): {queries} queries, server time {seconds:.2f} s median of 3 "
            f"(max {max(times):.2f} s) (goals ≤ {GOAL_QUERIES} queries, ≤ {GOAL_SECONDS:.0f} s:"
            f" {verdict})"
        )
        if queries > CHECK_QUERIES or seconds > CHECK_SECONDS:
            problems.append(f"{label}: {queries} queries, {seconds:.1f} s")
        if label in reference_days:
            since = timezone.now() - dt.timedelta(days=reference_days[label])
            with connection.cursor() as cursor:
                raw_times = []
                for _ in range(4):  # the first warms the buffers, as the page's warm-up did
                    begun = time.perf_counter()
                    cursor.execute(reference_sql, {"since": since})
                    cursor.fetchall()
                    raw_times.append(time.perf_counter() - begun)
            raw = statistics.median(raw_times[1:])
            print_figure(
                f"dashboard: {label}, {Customer.objects.count():,} customers",
                f"{seconds:.2f} s, {queries} queries",
                ratio=seconds / raw,
                reference=f"one hand-written read of the period's orders and interactions "
                f"({raw:.2f} s)",
                goal=f"≤ {GOAL_SECONDS:.0f} s, ≤ {GOAL_QUERIES} queries",
                met=verdict == "ok",
            )

    form = DashboardFilter({})
    form.is_valid()
    period = form.period()
    parts = []
    for figure in FIGURES:
        begun = time.perf_counter()
        figure.compute(*period)
        parts.append(f"{figure.key} {1000 * (time.perf_counter() - begun):.0f}")
    print("  per figure, ms (default view): " + ", ".join(parts))
    if args.check:
        print("check: " + ("; ".join(problems) if problems else "ok"))
        return 1 if problems else 0
    return 0


def _seeded(url: str) -> bool:
    """Whether the bench database exists and holds customers already (for --reuse)."""
    import psycopg

    try:
        with psycopg.connect(url.replace("pgsql://", "postgres://"), connect_timeout=5) as conn:
            row = conn.execute("SELECT EXISTS (SELECT 1 FROM customers_customer)").fetchone()
    except psycopg.Error:
        return False
    return bool(row and row[0])


if __name__ == "__main__":
    raise SystemExit(main())
