"""Fan-out chains side by side, and a chunk killed mid-way (PostgreSQL: row locks, SKIP LOCKED):
every recipient gets the campaign exactly once."""

import datetime as dt
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone

from campaigns import lifecycle, runs
from campaigns.models import Campaign, Recipient, Segment
from channels.models import Channel, Message, Template
from config.celery import app
from customers.models import Consent, Customer, Identity
from tests.customers.concurrency import run_together


def scheduled_campaign(count):
    Channel.objects.create(
        name="email", kind="email", backend="channels.backends.locmem.LocmemBackend"
    )
    Template.objects.create(key="news", kind="email", locale="en", subject="News", text="Hi")
    people = Customer.objects.bulk_create(Customer(locale="en") for _ in range(count))
    addresses = Identity.objects.bulk_create(
        Identity(customer=p, kind="email", value=f"p{p.pk}@example.org") for p in people
    )
    Consent.objects.bulk_create(
        Consent(customer_id=a.customer_id, identity=a, purpose="marketing", status="granted")
        for a in addresses
    )
    segment = Segment.objects.create(name="All", rules={"all": []})
    campaign = Campaign.objects.create(
        name="News", segment=segment, channels=["email"], template_key="news"
    )
    lifecycle.move(campaign, "schedule")
    return campaign


def drain(run_id):
    while runs.send_chunk(run_id):
        pass


def sent_once(run, count):
    keys = list(
        Message.objects.filter(idempotency_key__startswith=f"campaign:{run.pk}:").values_list(
            "idempotency_key", flat=True
        )
    )
    return len(keys) == len(set(keys)) == count


@pytest.mark.django_db(transaction=True)
def test_two_chains_at_once_send_each_recipient_exactly_once(postgres_only, monkeypatch):
    monkeypatch.setattr(runs, "CHUNK", 100)
    run = runs.start(scheduled_campaign(1000))
    errors = run_together(lambda: drain(run.pk), lambda: drain(run.pk))
    assert errors == []
    assert sent_once(run, 1000)
    assert not Recipient.objects.filter(run=run, status="pending").exists()
    run.refresh_from_db()
    assert run.status == "done"
    assert Campaign.objects.get(pk=run.campaign_id).status == "sent"


@contextmanager
def tasks_inline():
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


KILLED_CHUNK = """
import os, signal, sys
import django
django.setup()
from campaigns import runs

# Die inside the chunk's transaction, after its messages were made and before the commit.
real = runs.outbox.send_many
def send_then_die(requests):
    real(requests)
    os.kill(os.getpid(), signal.SIGKILL)
runs.outbox.send_many = send_then_die
runs.send_chunk(int(sys.argv[1]))
"""


@pytest.mark.django_db(transaction=True)
def test_a_chunk_killed_mid_way_is_resumed_by_the_stalled_run_sweep_and_sends_nothing_twice(
    postgres_only,
):
    campaign = scheduled_campaign(300)
    run = runs.start(campaign)  # its chains go to the broker, where no worker listens here
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    child = subprocess.run(
        [sys.executable, "-c", KILLED_CHUNK, str(run.pk)],
        env=env,
        cwd=Path(settings.BASE_DIR),
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stderr.decode()[-2000:]
    assert Message.objects.count() == 0  # the chunk's transaction died with it
    assert Recipient.objects.filter(run=run, status="pending").count() == 300

    assert runs.requeue_stalled() == 0  # not quiet for long yet
    later = timezone.now() + dt.timedelta(seconds=settings.CAMPAIGN_STALLED_SECONDS + 1)
    with time_machine.travel(later, tick=False), tasks_inline():
        assert runs.requeue_stalled() == 1  # beat's minute: the chain starts again, inline here
        assert sent_once(run, 300)
        assert runs.requeue_stalled() == 0  # nobody waits any more
    run.refresh_from_db()
    assert run.status == "done"
