"""Delivery benchmark: messages/s through the whole outbox path, against a bare Celery task.

    python bench/delivery.py                  # 4,000 messages
    python bench/delivery.py --quick          # 600 messages
    python bench/delivery.py --quick --check  # CI: exit 1 on errors or a gross regression

Needs PostgreSQL (database chosen as in bench/common.py, suffix ``delivery_bench``; dropped and
made anew) and uses Redis as broker and cache when it answers on 127.0.0.1:6379 (else the
embedded filesystem broker and file cache). Starts one Celery worker with 2 processes on a
queue of its own. In the same run it measures:

1. no-op tasks/s: N tasks that only count themselves, from enqueue to the last one done;
2. messages/s: ``channels.services.send_many`` for N consented customers, 100 at a time as a
   campaign or journey sweep fans out (choose channel, consent, render, outbox rows, timeline,
   enqueue), then delivery by the workers, DELIVERY_TASK_CHUNK (200) messages per task as a
   fan-out is delivered (lock, policy — consent, caps, arbitration, window —, the ``locmem``
   backend, status and timeline writes, each message decided on its own), from the first
   send to the last message ``sent``;

and prints both rates and their ratio (goal ≥ 0.3).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    bench_database_url,
    postgres_missing,
    recreate_database,
    start_worker,
    wait_until,
    worker_env,
    worker_ready,
)
from bench.figures import figure  # noqa: E402

SIZES = {"full": 4_000, "quick": 600}
GOAL_RATIO = 0.3
CHECK_RATIO = 0.02  # --check fails only below this: a gross regression, not a noisy machine
WORKER_PROCESSES = 2
FAN_OUT = 100  # messages per send_many call


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="600 messages instead of 4,000")
    parser.add_argument("--check", action="store_true", help="exit 1 on a gross regression")
    args = parser.parse_args(argv)
    count = SIZES["quick" if args.quick else "full"]

    url = bench_database_url("delivery_bench")
    if problem := recreate_database(url):
        return postgres_missing("delivery", problem, check=args.check)
    env = worker_env(url, ROOT)
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from django.core.management import call_command

    from bench.tasks import NOOP_COUNTER, noop
    from channels import services
    from channels.models import Channel, Message
    from customers.consents import set_consent
    from customers.models import Customer, Identity

    call_command("migrate", verbosity=0)
    broker = settings.CELERY_BROKER_URL.split("@")[-1]
    print(
        f"database: {url.rsplit('/', 1)[-1]} (recreated); broker: {broker}; "
        f"machine: {os.cpu_count()} cores; worker: {WORKER_PROCESSES} processes"
    )

    Channel.objects.create(
        name="Bench email", kind="email", backend="channels.backends.locmem.LocmemBackend"
    )
    people = Customer.objects.bulk_create(
        Customer(first_name=f"Bench {n}", time_zone="Asia/Tehran") for n in range(count)
    )
    Identity.objects.bulk_create(
        Identity(customer=p, kind="email", value=f"bench{p.pk}@example.org") for p in people
    )
    for person in people:
        set_consent(person, channel="email", purpose="marketing", status="granted")

    worker = start_worker(env, ROOT, WORKER_PROCESSES)
    try:
        worker_ready(WORKER_PROCESSES)

        cache.set(NOOP_COUNTER, 0, timeout=None)
        started = time.perf_counter()
        for _ in range(count):
            noop.delay()
        ended = wait_until(lambda: cache.get(NOOP_COUNTER) == count, 600, "no-op tasks")
        noop_rate = count / (ended - started)
        print(f"bare Celery no-op: {count:,} tasks in {ended - started:.2f} s = {noop_rate:,.0f}/s")

        started = time.perf_counter()
        requests = [
            services.Request(
                customer=person,
                purpose="marketing",
                idempotency_key=f"bench:{n}",
                channels=["email"],
                content=services.Content(f"Hello {person.first_name}", "Bench"),
            )
            for n, person in enumerate(people)
        ]
        for i in range(0, count, FAN_OUT):  # as a campaign or a journey sweep fans out
            services.send_many(requests[i : i + FAN_OUT])
        sent = Message.objects.filter(status=Message.Status.SENT)
        ended = wait_until(lambda: sent.count() == count, 900, "messages to be sent")
        rate = count / (ended - started)
        print(
            f"delivery: {count:,} messages in {ended - started:.2f} s = {rate:,.0f}/s "
            "(send_many + policy + locmem backend + status and timeline writes; "
            f"{settings.DELIVERY_TASK_CHUNK} messages per delivery task)"
        )
    finally:
        worker.terminate()
        worker.wait(timeout=60)

    held = Message.objects.exclude(status=Message.Status.SENT).count()
    ratio = rate / noop_rate
    verdict = "ok" if ratio >= GOAL_RATIO else "missed"
    print(f"delivery/no-op ratio: {ratio:.3f} (goal ≥ {GOAL_RATIO}: {verdict})")
    figure(
        "delivery: outbox to locmem backend, 2 worker processes",
        f"{rate:,.0f} messages/s",
        ratio=ratio,
        reference=f"a no-op Celery task ({noop_rate:,.0f}/s)",
        goal=f"ratio ≥ {GOAL_RATIO}",
        met=ratio >= GOAL_RATIO,
    )
    if args.check:
        problems = []
        if held:
            problems.append(f"{held} messages not sent")
        if ratio < CHECK_RATIO:
            problems.append(f"ratio {ratio:.3f} < {CHECK_RATIO}")
        print("check: " + ("; ".join(problems) if problems else "ok"))
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
