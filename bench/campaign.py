"""Campaign benchmark: segment count, audience materialisation and fan-out at 1M customers.

    python bench/campaign.py                  # 1,000,000 customers
    python bench/campaign.py --quick          # 100,000 customers
    python bench/campaign.py --quick --check  # CI: exit 1 on errors or a gross regression

Needs PostgreSQL (suffix ``campaign_bench``; dropped and made anew); Redis as broker when it
answers on 127.0.0.1:6379. Seeds with COPY: customers (last seen over 60 days, 0–3 orders, a
tenth at stage "advocacy"), an email each, marketing consent on 70% of them, and 1.5
"Product Viewed" events a customer over the last 14 days. Then, in one run:

1. segment count (each warmed once, then the median of 3): four conditions — email consent,
   seen in the last 30 days, at least one order, "Product Viewed" at least twice in the last 7
   days — compiled by ``campaigns.segments``, against the same four conditions written by hand
   in SQL;
2. materialisation: a run's audience (everyone with email consent) written as recipients by the
   run's ``INSERT … SELECT``, against a bare ``INSERT … SELECT`` of as many customer ids (and,
   apart, the ``ANALYZE`` a run's start does next);
3. fan-out: a campaign to the "advocacy" customers with email consent, sent now, on a Celery
   worker with 2 processes: messages handed to the outbox per second (the chunked fan-out),
   and end to end until every message is delivered (locmem backend).

Goals (issue 6): count ≤ 1 s, materialisation ≥ 200,000 rows/s, fan-out ≥ 2,000 messages/s.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    bench_database_url,
    copy_rows,
    postgres_missing,
    recreate_database,
    start_worker,
    wait_until,
    worker_env,
    worker_ready,
)
from bench.figures import figure  # noqa: E402

SIZES = {"full": 1_000_000, "quick": 100_000}
GOAL_COUNT_SECONDS, GOAL_ROWS, GOAL_FANOUT = 1.0, 200_000, 2_000
# --check fails only far below the goals: a gross regression, not a noisy machine.
CHECK_COUNT_SECONDS, CHECK_ROWS, CHECK_FANOUT = 20.0, 10_000, 100

FOUR_RULES = {
    "all": [
        {"field": "consent", "channel": "email", "op": "granted"},
        {"field": "last_seen", "op": "within_days", "value": 30},
        {"field": "order_count", "op": "gte", "value": 1},
        {"field": "event", "name": "Product Viewed", "op": "at_least", "count": 2, "days": 7},
    ]
}
HAND_WRITTEN = """
SELECT count(*) FROM customers_customer c
WHERE c.merged_into_id IS NULL
  AND c.last_seen_at >= now() - interval '30 days'
  AND c.order_count >= 1
  AND EXISTS (
    SELECT 1 FROM customers_identity i
    JOIN customers_consent k ON k.identity_id = i.id
    WHERE i.customer_id = c.id AND i.kind = 'email' AND i.bounced_at IS NULL
      AND k.purpose = 'marketing' AND k.status = 'granted')
  AND c.id IN (
    SELECT customer_id FROM customers_interaction
    WHERE name = 'Product Viewed' AND occurred_at >= now() - interval '7 days'
    GROUP BY customer_id HAVING count(*) >= 2)
"""


def seed(count: int) -> None:
    from django.db import connection
    from django.utils import timezone

    rnd = random.Random(6)
    now = timezone.now()
    with connection.cursor() as cursor:
        raw = cursor.connection.cursor()
        raw.execute("SELECT nextval('customers_customer_id_seq')")
        first = raw.fetchone()[0] + 1
        raw.execute(f"SELECT setval('customers_customer_id_seq', {first + count})")
        ids = range(first, first + count)
        copy_rows(
            raw,
            "customers_customer",
            "id, public_id, first_name, last_name, locale, time_zone, stage, traits, search_text,"
            " first_seen_at, last_seen_at, order_count, total_spent, created_at, updated_at",
            (
                (i, uuid.uuid4(), "Bench", "", "en", "Asia/Tehran",
                 "advocacy" if i % 10 == 0 else "consideration", "{}", "", now,
                 now - dt.timedelta(days=rnd.randint(0, 59)), rnd.randint(0, 3), 0, now, now)
                for i in ids
            ),
        )  # fmt: skip
        copy_rows(
            raw,
            "customers_identity",
            "customer_id, kind, value, verified, created_at",
            ((i, "email", f"c{i}@example.org", True, now) for i in ids),
        )
        raw.execute("SELECT id, customer_id FROM customers_identity ORDER BY customer_id")
        copy_rows(
            raw,
            "customers_consent",
            "customer_id, identity_id, purpose, status, wording, proof, created_at, updated_at",
            ((customer, identity, "marketing", "granted", "", "{}", now, now)
             for identity, customer in raw.fetchall() if customer % 10 < 7),
        )  # fmt: skip
        copy_rows(
            raw,
            "customers_interaction",
            "customer_id, channel, type, direction, name, summary, occurred_at, received_at,"
            " properties, context, message_id",
            (
                (i, "web", "track", "in", "Product Viewed", "Product Viewed",
                 now - dt.timedelta(hours=rnd.randint(1, 14 * 24)), now, "{}", "{}", "")
                for i in ids
                for _ in range(rnd.choice((1, 2)))
            ),
        )  # fmt: skip
        # As autovacuum leaves a live table: statistics, and the visibility map that lets the
        # event rule's index-only scan skip the rows.
        raw.execute("VACUUM (ANALYZE)")


def timed(action):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 customers instead of 1M")
    parser.add_argument("--check", action="store_true", help="exit 1 on a gross regression")
    args = parser.parse_args(argv)
    count = SIZES["quick" if args.quick else "full"]

    url = bench_database_url("campaign_bench")
    if problem := recreate_database(url):
        return postgres_missing("campaign", problem, check=args.check)
    # The benchmark schedules as the system would; approval of big audiences is not measured.
    env = {**worker_env(url, ROOT), "CAMPAIGN_APPROVAL_SIZE": "0", "DELIVERY_SEND_WINDOW": ""}
    os.environ.update(env)
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection, transaction

    from bench.tasks import NOOP_COUNTER, noop
    from campaigns import runs, scheduling, segments
    from campaigns.models import Campaign, CampaignRun, Recipient, Segment
    from channels.models import Channel, Message, Template

    call_command("migrate", verbosity=0)
    Channel.objects.create(
        name="Bench email", kind="email", backend="channels.backends.locmem.LocmemBackend"
    )
    Template.objects.create(key="bench", kind="email", locale="en", subject="Hi", text="Sale")
    started = time.perf_counter()
    seed(count)
    print(
        f"database: {url.rsplit('/', 1)[-1]} (recreated); machine: {os.cpu_count()} cores; "
        f"seeded {count:,} customers in {time.perf_counter() - started:.0f} s"
    )
    problems: list[str] = []

    # 1. Count.
    four = Segment.objects.create(name="Four conditions", rules=FOUR_RULES)
    # Each warmed once (they read partly different indexes), then the median of 3, alternating.
    with connection.cursor() as cursor:

        def hand_written() -> int:
            cursor.execute(HAND_WRITTEN)
            return cursor.fetchone()[0]

        hand_written()
        segments.count(four)
        hand_runs, our_runs = [], []
        for _ in range(3):
            hand_runs.append(timed(hand_written))
            our_runs.append(timed(lambda: segments.count(four)))
    raw_count, raw_seconds = hand_runs[0][0], statistics.median(t for _, t in hand_runs)
    ours, ours_seconds = our_runs[0][0], statistics.median(t for _, t in our_runs)
    print(
        f"segment count (4 conditions incl. an event count): {ours:,} customers in "
        f"{ours_seconds:.2f} s (median of 3, max {max(t for _, t in our_runs):.2f} s); the same "
        f"in hand-written SQL {raw_seconds:.2f} s → ratio "
        f"{raw_seconds / ours_seconds:.2f} (goal ≤ {GOAL_COUNT_SECONDS:.0f} s: "
        f"{'ok' if ours_seconds <= GOAL_COUNT_SECONDS else 'missed'})"
    )
    if ours != raw_count:
        problems.append(f"count {ours} differs from the hand-written SQL's {raw_count}")
    figure(
        f"campaign: segment count, 4 conditions incl. an event count, {count:,} customers",
        f"{ours_seconds:.2f} s",
        ratio=ours_seconds / raw_seconds,
        reference=f"the same conditions in hand-written SQL ({raw_seconds:.2f} s)",
        goal=f"≤ {GOAL_COUNT_SECONDS:.0f} s",
        met=ours_seconds <= GOAL_COUNT_SECONDS,
    )
    if ours_seconds > CHECK_COUNT_SECONDS:
        problems.append(f"count took {ours_seconds:.1f} s")

    # 2. Materialisation, committed (foreign keys are checked at commit), then emptied.
    consented = Segment.objects.create(
        name="Email consent",
        rules={"all": [{"field": "consent", "channel": "email", "op": "granted"}]},
    )
    campaign = Campaign.objects.create(
        name="Materialise", segment=consented, channels=["email"], template_key="bench"
    )

    def materialise() -> int:
        with transaction.atomic():
            run = CampaignRun.objects.create(campaign=campaign)
            return runs._materialise(run, campaign, run.started_at)

    rows, seconds = timed(materialise)
    _, analyse_seconds = timed(runs._know_the_run)  # a run's start does it after the insert
    Recipient.objects.all().delete()

    def bare() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            run = CampaignRun.objects.create(campaign=campaign)
            cursor.execute(
                "INSERT INTO campaigns_recipient (run_id, customer_id, status) "
                "SELECT %s, id, 'pending' FROM customers_customer ORDER BY id LIMIT %s",
                [run.pk, rows],
            )

    _, raw_seconds = timed(bare)
    Recipient.objects.all().delete()
    rate, raw_rate = rows / seconds, rows / raw_seconds
    print(
        f"materialisation: {rows:,} recipients in {seconds:.2f} s = {rate:,.0f} rows/s; bare "
        f"INSERT … SELECT of as many ids {raw_rate:,.0f} rows/s → ratio {rate / raw_rate:.2f} "
        f"(goal ≥ {GOAL_ROWS:,}/s: {'ok' if rate >= GOAL_ROWS else 'missed'}); then the "
        f"run's ANALYZE of the table {analyse_seconds:.2f} s"
    )
    if rate < CHECK_ROWS:
        problems.append(f"materialisation {rate:,.0f} rows/s")
    figure(
        f"campaign: audience materialisation, {rows:,} recipients",
        f"{rate:,.0f} rows/s",
        ratio=rate / raw_rate,
        reference=f"a bare INSERT … SELECT of as many ids ({raw_rate:,.0f} rows/s)",
        goal=f"≥ {GOAL_ROWS:,} rows/s",
        met=rate >= GOAL_ROWS,
    )

    # 3. Fan-out on a real worker.
    advocates = Segment.objects.create(
        name="Advocates",
        rules={"all": [
            {"field": "stage", "op": "in", "value": ["advocacy"]},
            {"field": "consent", "channel": "email", "op": "granted"},
        ]},
    )  # fmt: skip
    campaign = Campaign.objects.create(
        name="Fan-out", segment=advocates, channels=["email"], template_key="bench"
    )
    expected = segments.count(advocates)
    worker = start_worker(env, ROOT)
    try:
        worker_ready()
        # The reference: the same worker running bare no-op tasks.
        noops = min(expected, 5_000)
        cache.set(NOOP_COUNTER, 0, timeout=None)
        begun = time.perf_counter()
        for _ in range(noops):
            noop.delay()
        noop_rate = noops / (
            wait_until(lambda: cache.get(NOOP_COUNTER) == noops, 600, "no-ops") - begun
        )
        print(f"bare Celery no-op on the same worker: {noops:,} tasks = {noop_rate:,.0f}/s")
        started = time.perf_counter()
        scheduling.schedule(campaign)  # "now": the run starts when this commits
        handed: list[float] = []
        waiting = Recipient.objects.filter(status=Recipient.Status.PENDING)
        unsent = Message.objects.filter(status__in=Message.PENDING)

        def finished() -> bool:
            run_done = CampaignRun.objects.filter(campaign=campaign, status="done").exists()
            if not handed and run_done and not waiting.exists():
                handed.append(time.perf_counter())
            return bool(handed) and not unsent.exists()

        ended = wait_until(finished, 3600, "the campaign to be sent", every=0.5)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    sent = Message.objects.filter(status=Message.Status.SENT).count()
    for label, what, seconds in (
        ("fan-out", "materialised and handed to the outbox", handed[0] - started),
        ("end to end", "… and every message delivered", ended - started),
    ):  # fmt: skip
        per_second = expected / seconds
        verdict = "ok" if per_second >= GOAL_FANOUT else "missed"
        print(
            f"{label}: {expected:,} messages, {what}, in {seconds:.1f} s = {per_second:,.0f}/s "
            f"(goal ≥ {GOAL_FANOUT:,}/s: {verdict})"
        )
        figure(
            f"campaign: {label}, {expected:,} messages, 2 worker processes",
            f"{per_second:,.0f} messages/s",
            ratio=per_second / noop_rate,
            reference=f"a no-op Celery task ({noop_rate:,.0f}/s)",
            goal=f"≥ {GOAL_FANOUT:,}/s",
            met=per_second >= GOAL_FANOUT,
        )
    print(f"  (one worker, 2 processes, via locmem; {sent:,} sent)")
    campaign.refresh_from_db()
    if sent != expected or campaign.status != Campaign.Status.SENT:
        problems.append(f"{sent} sent of {expected}; campaign {campaign.status}")
    if expected / (ended - started) < CHECK_FANOUT:
        problems.append("fan-out far below the goal")
    if args.check:
        print("check: " + ("; ".join(problems) if problems else "ok"))
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
