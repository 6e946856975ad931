"""Ingest benchmark: events/s through /ingest/v1/batch, against raw COPY of the same table.

    python bench/ingest.py                  # 100,000 events (1,000 batches of 100)
    python bench/ingest.py --quick          # 10,000 events
    python bench/ingest.py --quick --check  # CI: exit 1 on errors or a gross regression

Needs PostgreSQL (database chosen as in bench/common.py, suffix ``ingest_bench``; dropped and
made anew). Starts gunicorn on loopback with production settings, and a load generator in a
separate process that keeps a few requests in flight over keep-alive connections. The events:
50,000 distinct customers, 100 events a batch, a mix of identify, page, Product Viewed,
Product Added and Order Completed. In the same run it times raw COPY of interaction-shaped rows
into the same table, prints both rates and their ratio, and where the server's time goes
(queries per event, measured in-process on a sample batch).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    BENCH_ENCRYPTION_KEY,
    bench_database_url,
    postgres_missing,
    recreate_database,
)
from bench.figures import figure  # noqa: E402

CUSTOMERS = 50_000
BATCH = 100
SIZES = {"full": 1_000, "quick": 100}  # batches
COPY_ROWS = {"full": 200_000, "quick": 50_000}
GOAL_RATIO = 0.10
CHECK_RATIO = 0.002  # --check fails only below this: a gross regression, not a noisy machine
IN_FLIGHT = 4


def make_events(rng: random.Random, count: int) -> list[dict]:
    """The storefront traffic mix; every customer is one of 50,000 devices (and accounts)."""
    events = []
    for _ in range(count):
        n = rng.randrange(CUSTOMERS)
        sku = f"SKU-{n % 500}"
        base = {"anonymousId": f"device-{n}", "messageId": str(uuid.UUID(int=rng.getrandbits(128)))}
        roll = rng.random()
        if roll < 0.10:
            event = {
                "type": "identify",
                "userId": f"user-{n}",
                "traits": {"email": f"customer{n}@example.com", "firstName": "Sara"},
            }
        elif roll < 0.45:
            event = {"type": "page", "name": "Product", "properties": {"path": f"/p/{sku}"}}
        elif roll < 0.80:
            event = {
                "type": "track",
                "event": "Product Viewed",
                "properties": {"sku": sku, "name": f"Product {sku}", "price": 19.9},
            }
        elif roll < 0.95:
            event = {
                "type": "track",
                "event": "Product Added",
                "properties": {"sku": sku, "quantity": 1, "price": 19.9},
            }
        else:
            event = {
                "type": "track",
                "event": "Order Completed",
                "properties": {
                    "order_id": str(uuid.UUID(int=rng.getrandbits(128))),
                    "total": 39.8,
                    "products": [{"sku": sku, "quantity": 2, "price": 19.9}],
                },
            }
        events.append({**base, **event})
    return events


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not listen on {port}")


def load(url: str, key: str, bodies: list[bytes]) -> tuple[float, int, int, int]:
    """Send every body; returns (seconds, accepted, rejected, failed requests)."""
    import httpx

    def send(chunk: list[bytes]) -> tuple[int, int, int]:
        accepted = rejected = failed = 0
        with httpx.Client(auth=(key, ""), timeout=60) as client:
            for body in chunk:
                response = client.post(
                    url, content=body, headers={"Content-Type": "application/json"}
                )
                if response.status_code != 200:
                    failed += 1
                    continue
                data = response.json()
                accepted += data["accepted"]
                rejected += len(data["rejected"])
        return accepted, rejected, failed

    chunks = [bodies[i::IN_FLIGHT] for i in range(IN_FLIGHT)]
    started = time.perf_counter()
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        results = list(pool.map(send, chunks))
    seconds = time.perf_counter() - started
    return seconds, *(sum(r[i] for r in results) for i in range(3))


def copy_rate(rows: int) -> float:
    """Rows/s of a raw COPY of interaction-shaped rows into the interaction table."""
    from django.db import connection, transaction
    from django.utils import timezone

    from customers.models import Customer, Interaction

    customer = Customer.objects.create()
    now = timezone.now()
    table = Interaction._meta.db_table
    columns = (
        "customer_id, source_id, channel, type, direction, name, summary, occurred_at, "
        "received_at, properties, context, agent_id, message_id"
    )
    props = json.dumps({"sku": "SKU-1", "price": 19.9, "name": "Product SKU-1"})
    row = [customer.pk, None, "web", "track", "in", "Product Viewed", "Product Viewed: SKU-1"]
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        with cursor.connection.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for i in range(rows):
                copy.write_row((*row, now, now, props, "{}", None, f"copy-{i}"))
    seconds = time.perf_counter() - started
    Interaction.objects.filter(customer=customer).delete()
    customer.delete()
    return rows / seconds


def where_time_goes(source_id: int, events: list[dict]) -> str:
    """Queries per event for one batch applied in-process (the same code the server runs)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from channels import batch
    from customers.models import Source

    source = Source.objects.get(pk=source_id)
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = batch.apply_batch(events, source=source)
        seconds = time.perf_counter() - started
    kinds: dict[str, int] = {}
    for query in queries.captured_queries:
        verb = query["sql"].split(None, 1)[0].upper()
        kinds[verb] = kinds.get(verb, 0) + 1
    spread = ", ".join(f"{verb} {count}" for verb, count in sorted(kinds.items()))
    return (
        f"{len(queries.captured_queries) / len(events):.1f} queries/event "
        f"({spread}); {seconds * 1000 / len(events):.2f} ms/event in-process, "
        f"{result.accepted} accepted"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 events instead of 100,000")
    parser.add_argument("--check", action="store_true", help="exit 1 on a gross regression")
    parser.add_argument("--send-to", help=argparse.SUPPRESS)  # the load generator's own mode
    args = parser.parse_args(argv)
    if args.send_to:
        key, *bodies = sys.stdin.buffer.read().split(b"\n")
        print(json.dumps(load(args.send_to, key.decode(), bodies)))
        return 0
    size = "quick" if args.quick else "full"

    url = bench_database_url("ingest_bench")
    if problem := recreate_database(url):
        return postgres_missing("ingest", problem, check=args.check)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "WARNING",
        "DJANGO_DEBUG": "0",
        "SECRET_KEY": "bench-only-secret",
        "CRM_ENCRYPTION_KEYS": BENCH_ENCRYPTION_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        # gunicorn is reached over plain http on loopback: no redirect to https.
        "SECURE_SSL_REDIRECT": "0",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    from customers import apikeys
    from customers.models import Customer, Interaction, Source

    call_command("migrate", verbosity=0)
    print(f"database: {url.rsplit('/', 1)[-1]} (recreated); machine: {os.cpu_count()} cores")

    copied = copy_rate(COPY_ROWS[size])
    print(f"raw COPY into the interaction table: {copied:,.0f} rows/s ({COPY_ROWS[size]:,} rows)")

    source = Source.objects.create(name="bench web shop", kind="web", rate_limit=0)
    _, key = apikeys.create_key(source, scopes=["track"])
    rng = random.Random(20261122)
    batches = [make_events(rng, BATCH) for _ in range(SIZES[size])]
    bodies = [json.dumps({"batch": events}).encode() for events in batches]

    port = free_port()
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for(port)
        done = subprocess.run(
            [sys.executable, __file__, "--send-to", f"http://127.0.0.1:{port}/ingest/v1/batch"],
            input=b"\n".join([key.encode(), *bodies]),
            capture_output=True,
            check=True,
            cwd=ROOT,
            env=env,
        )
        seconds, accepted, rejected, failed = json.loads(done.stdout)
    finally:
        server.terminate()
        server.wait(timeout=30)

    events = len(batches) * BATCH
    rate = events / seconds
    ratio = rate / copied
    print(
        f"ingest: {events:,} events in {seconds:.1f} s = {rate:,.0f} events/s "
        f"(gunicorn 2 workers, {IN_FLIGHT} requests in flight, {BATCH} events a batch); "
        f"{accepted:,} accepted, {rejected:,} rejected, {failed} failed requests"
    )
    print(
        f"state: {Customer.objects.count():,} customers, "
        f"{Interaction.objects.count():,} interactions"
    )
    print(f"where the time goes: {where_time_goes(source.pk, make_events(rng, BATCH))}")
    verdict = "ok" if ratio >= GOAL_RATIO else "missed"
    print(f"ingest/COPY ratio: {ratio:.4f} (goal ≥ {GOAL_RATIO}: {verdict})")
    figure(
        f"ingest: tracking API, {BATCH}-event batches, gunicorn 2 workers",
        f"{rate:,.0f} events/s",
        ratio=ratio,
        reference=f"raw COPY into the interaction table ({copied:,.0f} rows/s)",
        goal=f"ratio ≥ {GOAL_RATIO}",
        met=ratio >= GOAL_RATIO,
    )
    if args.check:
        problems = []
        if failed or rejected or accepted != events:
            problems.append(f"{failed} failed requests, {rejected} rejected, {accepted} accepted")
        if ratio < CHECK_RATIO:
            problems.append(f"ratio {ratio:.4f} < {CHECK_RATIO}")
        print(
            "check: "
            + ("; ".join(problems) if problems else "ok (fails only on gross regressions)")
        )
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
