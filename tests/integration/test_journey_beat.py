"""Beat and a worker, for real: an abandoned cart gets its first reminder with no task called by
hand. A ``celery worker -B`` process (DatabaseScheduler) runs against this test's PostgreSQL
database and the configured broker (Redis in CI's PostgreSQL pass), with the journey's first
wait and the sweep's interval shortened."""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from channels.models import Channel, Message
from customers import apikeys
from customers.consents import set_consent
from customers.models import Customer
from tests.customers.factories import SourceFactory
from tests.integration.journeys import abandoned_cart_journey

pytestmark = pytest.mark.xdist_group("celery-broker")


@pytest.mark.django_db(transaction=True)
def test_beat_and_a_worker_send_the_first_abandoned_cart_reminder_on_their_own(
    postgres_only, tmp_path
):
    Channel.objects.create(
        name="Email", kind="email", backend="channels.backends.locmem.LocmemBackend"
    )
    abandoned_cart_journey("email")
    call_command("setup_schedules")
    every_second, _ = IntervalSchedule.objects.get_or_create(
        every=1, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.filter(task="journeys.advance_due").update(interval=every_second)

    source = SourceFactory(name="App", kind="app")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {apikeys.create_key(source)[1]}")
    for path, body in [
        ("identify", {"userId": "beat-1", "traits": {"email": "beat@example.org"}}),
        ("track", {"userId": "beat-1", "event": "Product Added",
                   "properties": {"sku": "SKU-1", "quantity": 1, "price": 10}}),
    ]:  # fmt: skip
        response = client.post(f"/ingest/v1/{path}", json.dumps(body), "application/json")
        assert response.status_code == 200, response.content
    customer = Customer.objects.get(identities__value="beat-1")
    set_consent(customer, channel="email", purpose="marketing", status="granted")

    db = connection.settings_dict
    queue = f"beat-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "DELIVERY_SEND_WINDOW": "",
        "VAR_DIR": str(tmp_path),
    }
    log = (tmp_path / "worker.log").open("w")  # a file: a full pipe would stall the worker
    worker = subprocess.Popen(
        # No -Q: the worker consumes every queue under its prefix (config/queues.py).
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-B", "--pool", "solo",
         "--schedule", str(tmp_path / "beat-schedule"), "--loglevel", "WARNING"],
        env=env,
        cwd=Path(settings.BASE_DIR),
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        sent = Message.objects.filter(customer=customer, status=Message.Status.SENT)
        while not sent.exists() and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.5)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        log.close()
    output = (tmp_path / "worker.log").read_text()
    assert sent.exists(), f"no reminder was sent by beat and the worker:\n{output[-4000:]}"
    message = sent.get()
    assert (message.kind, message.to) == ("email", "beat@example.org")
    assert message.idempotency_key.startswith("journey:")
    assert "Traceback" not in output, output[-4000:]
