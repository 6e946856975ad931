"""Scale-out for real: three ``celery worker`` processes and, by mistake, two ``celery beat``
processes (DatabaseScheduler) on one broker send every abandoned-cart reminder and every campaign
message exactly once.

The processes run against this test's PostgreSQL database, on a queue prefix of their own (so
they consume every queue of config/queues.py under it), with every sweep due each second. The
messages go out on an SMS channel whose gateway is a loopback HTTP server in this test: it
counts the sends of all processes, so a message sent twice shows as two requests. The broker is
Redis (CI's PostgreSQL pass) and RabbitMQ when one answers on 127.0.0.1:5672.
"""

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from kombu import Connection, Exchange, Queue

from campaigns import scheduling
from campaigns.models import Campaign, CampaignRun, Recipient, Segment
from channels.models import Channel, Message, Template
from config import queues
from customers import apikeys
from customers.consents import set_consent
from customers.models import Customer
from tests.customers.factories import CustomerFactory, IdentityFactory, SourceFactory
from tests.integration.journeys import abandoned_cart_journey

pytestmark = pytest.mark.xdist_group("celery-broker")

CARTS = 20  # abandoned carts: one reminder each
NOW_AUDIENCE = 120  # a campaign sent "now" (from a separate process, as the admin would)
AT_AUDIENCE = 60  # a campaign at a time, started by the beats (both see it due)
WORKERS, BEATS = 3, 2
DEADLINE = 240  # seconds for all to be sent from the processes' start (generous: busy CI)


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def broker_url(broker: str) -> str:
    configured = settings.CELERY_BROKER_URL
    if broker == "redis":
        if configured.startswith("redis://"):
            return configured  # CI's PostgreSQL pass: must run, never skip
        if not answers(6379):
            pytest.skip("no Redis on 127.0.0.1:6379 (CI's PostgreSQL pass has one)")
        return "redis://127.0.0.1:6379/3"
    if not answers(5672):
        pytest.skip("no RabbitMQ on 127.0.0.1:5672")
    return "amqp://guest:guest@127.0.0.1:5672//"


class Gateway(ThreadingHTTPServer):
    """An SMS gateway on loopback that keeps every request body it gets."""

    daemon_threads = True

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), GatewayHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/send"


class GatewayHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.received.append(body)
            answer = json.dumps({"id": f"gw-{len(self.server.received)}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def gateway():
    server = Gateway()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def abandon_carts() -> list[int]:
    """CARTS shoppers identified by phone who put a product in their cart, through the
    tracking API in one batch; returns their customer ids."""
    source = SourceFactory(name="App", kind="app")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {apikeys.create_key(source)[1]}")
    batch = []
    for n in range(CARTS):
        user = f"scale-{n}"
        batch += [
            {"type": "identify", "userId": user, "traits": {"phone": f"+98912{n:07d}"}},
            {"type": "track", "userId": user, "event": "Product Added",
             "properties": {"sku": f"SKU-{n}", "quantity": 1, "price": 10}},
        ]  # fmt: skip
    response = client.post("/ingest/v1/batch", json.dumps({"batch": batch}), "application/json")
    assert response.status_code == 200, response.content
    shoppers = list(Customer.objects.filter(identities__value__startswith="scale-"))
    assert len(shoppers) == CARTS
    for customer in shoppers:
        set_consent(customer, channel="sms", purpose="marketing", status="granted")
    return [customer.pk for customer in shoppers]


def make_campaign(name: str, orders: int, size: int, **fields) -> Campaign:
    """A campaign on SMS to ``size`` consenting customers (those with ``orders`` orders)."""
    for n in range(size):
        customer = CustomerFactory(order_count=orders)
        IdentityFactory(customer=customer, kind="phone", value=f"+98935{orders}{n:06d}")
        set_consent(customer, channel="sms", purpose="marketing", status="granted")
    segment = Segment.objects.create(
        name=name, rules={"all": [{"field": "order_count", "op": "eq", "value": orders}]}
    )
    Template.objects.get_or_create(
        key="scale", kind="sms", locale="en", defaults={"text": "Sale starts now"}
    )
    return Campaign.objects.create(
        name=name, segment=segment, channels=["sms"], template_key="scale", **fields
    )


def every_second(*tasks: str) -> None:
    call_command("setup_schedules")
    second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(task__in=tasks).update(interval=second)


def delete_queues(url: str, prefix: str) -> None:
    """Remove the run's queues and their bindings from the broker (as Celery declared them:
    on the prefix's direct exchange). Redis only deletes what this connection declared."""
    exchange = Exchange(prefix, "direct")
    with Connection(url, connect_timeout=5) as conn:
        channel = conn.default_channel
        for name in queues.names(prefix):
            queue = Queue(name, exchange, routing_key=name)(channel)
            queue.declare()
            queue.delete()
        exchange(channel).delete()


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
@pytest.mark.django_db(transaction=True)
def test_three_workers_and_two_beats_send_every_reminder_and_campaign_message_once(
    postgres_only, broker, gateway, tmp_path
):
    url = broker_url(broker)
    Channel.objects.create(
        name="SMS gateway",
        kind="sms",
        backend="channels.backends.http.HttpBackend",
        settings={"url": gateway.url, "id_path": "id",
                  "json": {"to": "{{ to }}", "text": "{{ text }}",
                           "key": "{{ metadata.idempotency_key }}"}},
    )  # fmt: skip
    abandoned_cart_journey("sms")
    shoppers = abandon_carts()
    now_campaign = make_campaign("Now", orders=7, size=NOW_AUDIENCE)
    at_campaign = make_campaign(
        "At", orders=8, size=AT_AUDIENCE, schedule="at",
        send_at=timezone.now() + dt.timedelta(hours=1),
    )  # fmt: skip
    # A one-off clocked task, due as the beats start: its time is set just before scheduling
    # (the set-up above takes seconds on a busy machine, and a past time is refused).
    at_campaign.send_at = timezone.now() + dt.timedelta(seconds=2)
    at_campaign.save(update_fields=["send_at"])
    scheduling.schedule(at_campaign)
    every_second(
        "journeys.advance_due", "channels.dispatch_due", "campaigns.requeue_stalled",
        "customers.heartbeat",
    )  # fmt: skip

    db = connection.settings_dict
    prefix = f"scale-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CELERY_BROKER_URL": url,
        "CELERY_TASK_DEFAULT_QUEUE": prefix,
        "DELIVERY_SEND_WINDOW": "",
        # Small delivery tasks, so the three workers share each fan-out; stalled-run checks
        # every few seconds, so extra campaign chains run side by side with the first ones.
        "DELIVERY_TASK_CHUNK": "10",
        "CAMPAIGN_STALLED_SECONDS": "3",
        "VAR_DIR": str(tmp_path),
        "LOG_LEVEL": "INFO",  # each task's receipt and each beat's send, read below
    }
    celery = [sys.executable, "-m", "celery", "-A", "config"]
    commands = [
        [*celery, "worker", "--pool", "prefork", "--concurrency", "2", "--hostname",
         f"w{n}@{prefix}", "--without-gossip", "--without-mingle", "--loglevel", "INFO"]
        for n in range(WORKERS)
    ] + [
        [*celery, "beat", "--schedule", str(tmp_path / f"beat-{n}"),
         "--pidfile", str(tmp_path / f"beat-{n}.pid"), "--loglevel", "INFO"]
        for n in range(BEATS)
    ]  # fmt: skip
    logs = [tmp_path / f"process-{n}.log" for n in range(len(commands))]
    processes = []
    try:
        for command, log in zip(commands, logs, strict=True):
            with log.open("w") as out:  # a file: a full pipe would stall the process
                processes.append(
                    subprocess.Popen(
                        command, env=env, cwd=Path(settings.BASE_DIR), stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )  # fmt: skip
        # Every worker up before the big fan-out, so all three can take part in it.
        deadline = time.monotonic() + DEADLINE
        while not all(" ready." in log.read_text() for log in logs[:WORKERS]):
            assert time.monotonic() < deadline, "the workers did not start"
            assert all(p.poll() is None for p in processes), "a process stopped"
            time.sleep(0.25)
        # "Send now" in another process, as the admin's button does: the run starts on a
        # worker once that process's transaction commits.
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c",
             "from campaigns import scheduling; from campaigns.models import Campaign; "
             f"scheduling.schedule(Campaign.objects.get(pk={now_campaign.pk}))"],
            env=env, cwd=Path(settings.BASE_DIR), check=True, timeout=60,
        )  # fmt: skip

        total = CARTS + NOW_AUDIENCE + AT_AUDIENCE
        sent = Message.objects.filter(status=Message.Status.SENT)
        while time.monotonic() < deadline and all(p.poll() is None for p in processes):
            if sent.count() >= total and len(gateway.received) >= total:
                break
            time.sleep(0.5)
        time.sleep(3)  # room for a late duplicate (a second beat's sweep, an extra chain)
        alive = [p.poll() is None for p in processes]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        delete_queues(url, prefix)
    texts = [log.read_text() for log in logs]
    tails = [f"--- {log.name}\n{text[-3000:]}" for log, text in zip(logs, texts, strict=True)]
    output = "\n".join(tails)

    assert all(alive), output
    statuses = Counter(Message.objects.values_list("status", flat=True))
    assert statuses == {"sent": total}, f"{statuses}\n{output}"
    keys = Counter(body["key"] for body in gateway.received)
    assert {key: n for key, n in keys.items() if n != 1} == {}, "sent twice"
    assert set(keys) == set(Message.objects.values_list("idempotency_key", flat=True))

    reminders = Message.objects.filter(idempotency_key__startswith="journey:")
    per_shopper = dict(reminders.values_list("customer").annotate(n=Count("pk")))
    assert per_shopper == dict.fromkeys(shoppers, 1)
    for campaign, size in [(now_campaign, NOW_AUDIENCE), (at_campaign, AT_AUDIENCE)]:
        (run,) = CampaignRun.objects.filter(campaign=campaign)  # two beats, one run
        assert (run.status, run.audience) == ("done", size)
        handed = Recipient.objects.filter(run=run, status="handed", message__status="sent")
        assert handed.count() == size
        assert Campaign.objects.get(pk=campaign.pk).status == "sent"
    assert not any("Traceback" in text for text in texts), output
    # Three workers shared the deliveries, and both beats sent the sweeps.
    deliveries = [text.count("Task channels.deliver_messages[") for text in texts[:WORKERS]]
    assert sum(n > 0 for n in deliveries) >= 2, deliveries
    assert all("Sending due task" in text for text in texts[WORKERS:]), output
