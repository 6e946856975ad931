"""Timeline benchmark: a customer with a long history, on the admin page and the selector.

    python bench/timeline.py            # 1,000,000 interactions; the hot customer has 50,000
    python bench/timeline.py --quick    # 100,000 interactions; the hot customer has 50,000
    python bench/timeline.py --quick --check   # CI: exit 1 on a gross regression

Needs PostgreSQL. The database is dropped and recreated at the start: BENCH_DATABASE_URL if set;
else the server of a PostgreSQL DATABASE_URL with ``_bench`` appended to its database name (so a
developer's own database is never dropped); else postgres://postgres@127.0.0.1:5432/crm_bench.

Prints the seed rate, then for the hot customer the admin change page (queries, server time),
the first timeline page and a page from the middle of the history, and their ratio, which must
stay near 1: keyset pagination costs the same at any depth, unlike OFFSET.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
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

# Goals, and the much looser limits --check fails on (CI machines are noisy).
GOAL_QUERIES, GOAL_FIRST_MS, GOAL_DEEP_RATIO = 25, 10.0, 2.0
CHECK_QUERIES, CHECK_FIRST_MS, CHECK_DEEP_RATIO = 25, 50.0, 4.0

SIZES = {
    # (customers, interactions each, hot customer's interactions): 1,000,000 and 100,000 rows.
    "full": (19_000, 50, 50_000),
    "quick": (1_000, 50, 50_000),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k interactions instead of 1M")
    parser.add_argument("--check", action="store_true", help="exit 1 on a gross regression")
    args = parser.parse_args(argv)

    url = bench_database_url()
    if problem := recreate_database(url):
        return postgres_missing("timeline", problem, check=args.check)

    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    return run(quick=args.quick, check=args.check)


def run(*, quick: bool, check: bool) -> int:
    from io import StringIO

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from config.prepared import prepared
    from customers import demo, selectors
    from customers.models import Customer, Interaction

    db = settings.DATABASES["default"]
    print(f"database: {db['HOST'] or 'socket'}:{db['PORT'] or 5432}/{db['NAME']} (recreated)")
    call_command("migrate", verbosity=0)

    customers, per_customer, hot_size = SIZES["quick" if quick else "full"]
    started = time.perf_counter()
    call_command(
        "seed_demo",
        customers=customers,
        interactions_per_customer=per_customer,
        hot_customer_interactions=hot_size,
        stdout=StringIO(),
    )
    seconds = time.perf_counter() - started
    interactions = Interaction.objects.count()
    customer_count = Customer.objects.count()
    print(
        f"seed: {interactions:,} interactions, {customer_count:,} customers in {seconds:.1f} s "
        f"= {interactions / seconds:,.0f} interactions/s (seed_demo bulk mode, COPY)"
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # what autovacuum would have done on a live database

    hot = demo.hot_customer()
    if hot is None:
        raise SystemExit("seed_demo made no hot customer")
    history = Interaction.objects.filter(customer=hot).count()
    print(f"hot customer: pk={hot.pk}, {history:,} interactions")

    # The admin page, as an administrator sees it. Production settings (no debug cursor), and
    # not setup_test_environment(): its template instrumentation copies every template context
    # for the test client and would be measured as server time.
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    user = get_user_model().objects.create_superuser("bench-admin", "bench@example.com", None)
    client = Client()
    client.force_login(user)
    url = f"/admin/customers/customer/{hot.pk}/change/"
    status = client.get(url).status_code
    queries: int | None = None
    page_ms: float | None = None
    if status == 200:
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        queries = len(captured)
        [page_times] = timings_ms(lambda: client.get(url), runs=5, warmup=1)
        page_ms = statistics.median(page_times)
        print(f"admin change page: {queries} queries; {describe(page_times)}; {url}")
    else:
        print(f"admin change page: HTTP {status} at {url}; not measured")

    # The selector the page uses: the newest page, and one from the middle of the history.
    middle = history // 2
    occurred_at, pk = (
        Interaction.objects.filter(customer=hot)
        .order_by("-occurred_at", "-pk")
        .values_list("occurred_at", "pk")[middle]
    )
    cursor_at = selectors.TimelineCursor(occurred_at=occurred_at, pk=pk)
    with CaptureQueriesContext(connection) as captured:
        first_page = selectors.timeline(hot)
    deep_page = selectors.timeline(hot, before=cursor_at)
    first_times, deep_times = timings_ms(
        lambda: selectors.timeline(hot),
        lambda: selectors.timeline(hot, before=cursor_at),
        runs=20,
    )
    first_ms, deep_ms = statistics.median(first_times), statistics.median(deep_times)
    print(
        f"timeline first page: {describe(first_times)} "
        f"({len(captured)} query, {len(first_page.items)} rows)"
    )
    print(
        f"timeline deep page (after row {middle:,} of {history:,}): {describe(deep_times)} "
        f"({len(deep_page.items)} rows)"
    )
    ratio = deep_ms / first_ms
    print(f"deep/first: {ratio:.2f}")
    # The physical reference: the selector's own SQL sent through a bare cursor, as the
    # selector sends it (a prepared statement on PostgreSQL, config/prepared.py).
    raw_sql, raw_params = selectors.timeline_query(hot).query.sql_with_params()

    def bare() -> None:
        with prepared(), connection.cursor() as cursor:
            cursor.execute(raw_sql, raw_params)
            cursor.fetchall()

    [raw_times] = timings_ms(bare, runs=20)
    raw_ms = statistics.median(raw_times)
    print(f"the first page's SQL through a bare cursor: {describe(raw_times)}")
    figure(
        f"timeline: first page of a {history:,}-interaction history",
        f"{first_ms:.2f} ms",
        ratio=first_ms / raw_ms,
        reference=f"its SQL on a bare cursor ({raw_ms:.2f} ms)",
        goal=f"≤ {GOAL_FIRST_MS:g} ms",
        met=first_ms <= GOAL_FIRST_MS,
    )
    figure(
        f"timeline: page after row {middle:,}",
        f"{deep_ms:.2f} ms",
        ratio=ratio,
        reference="the first page",
        goal=f"ratio ≤ {GOAL_DEEP_RATIO:g}",
        met=ratio <= GOAL_DEEP_RATIO,
    )
    if page_ms is not None and queries is not None:
        figure(
            "timeline: admin customer page",
            f"{page_ms:.0f} ms, {queries} queries",
            ratio=page_ms / raw_ms,
            reference="the first page's bare SQL",
            goal=f"≤ {GOAL_QUERIES} queries",
            met=queries <= GOAL_QUERIES,
        )

    shown_queries = queries if queries is not None else "n/a"
    shown_page = f"{page_ms:.1f}" if page_ms is not None else "n/a"
    print(
        f"timeline: queries={shown_queries} page_ms={shown_page} first_ms={first_ms:.2f} "
        f"deep_ms={deep_ms:.2f} deep/first={ratio:.2f}"
    )
    goals = [
        (f"admin page ≤ {GOAL_QUERIES} queries", queries is not None and queries <= GOAL_QUERIES),
        (f"first page ≤ {GOAL_FIRST_MS:g} ms", first_ms <= GOAL_FIRST_MS),
        (f"deep page within {GOAL_DEEP_RATIO:g}× of first", ratio <= GOAL_DEEP_RATIO),
    ]
    print("goals: " + "; ".join(f"{name}: {'ok' if met else 'MISSED'}" for name, met in goals))
    if not check:
        return 0
    failures = []
    if status != 200:
        failures.append(f"admin change page answered HTTP {status}")
    elif queries is not None and queries > CHECK_QUERIES:
        failures.append(f"admin page ran {queries} queries (> {CHECK_QUERIES})")
    if first_ms > CHECK_FIRST_MS:
        failures.append(f"first page took {first_ms:.1f} ms (> {CHECK_FIRST_MS:g})")
    if ratio > CHECK_DEEP_RATIO:
        failures.append(f"deep/first is {ratio:.2f} (> {CHECK_DEEP_RATIO:g})")
    if failures:
        print("check: FAILED: " + "; ".join(failures))
        return 1
    print("check: ok (fails only on gross regressions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
