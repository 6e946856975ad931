"""Two sweeps at once, and a sweep killed mid-batch (PostgreSQL: row locks, SKIP LOCKED)."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from channels.models import Channel, Message
from customers.models import Customer, Identity
from journeys import engine
from journeys.models import Enrollment, Journey, JourneyStep
from tests.customers.concurrency import run_together


def due_enrollments(count):
    Channel.objects.create(
        name="email", kind="email", backend="channels.backends.locmem.LocmemBackend"
    )
    journey = Journey.objects.create(key="sweep_test", name="Sweep test", context="none")
    JourneyStep.objects.create(
        journey=journey, position=0, channels=["email"], template="abandoned_cart",
        purpose="transactional",
    )  # fmt: skip
    people = Customer.objects.bulk_create(Customer() for _ in range(count))
    Identity.objects.bulk_create(
        Identity(customer=p, kind="email", value=f"p{p.pk}@example.org") for p in people
    )
    past = timezone.now() - dt.timedelta(minutes=5)
    Enrollment.objects.bulk_create(
        Enrollment(journey=journey, customer=p, next_run_at=past) for p in people
    )
    return journey


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_each_reminder_exactly_once(postgres_only):
    due_enrollments(1000)
    errors = run_together(
        lambda: engine.advance_for(seconds=60, limit=100),
        lambda: engine.advance_for(seconds=60, limit=100),
    )
    assert errors == []
    assert Message.objects.count() == 1000
    keys = list(Message.objects.values_list("idempotency_key", flat=True))
    assert len(set(keys)) == 1000
    assert not Enrollment.objects.filter(status="active").exists()


KILLED_SWEEP = """
import os, signal, sys
import django
django.setup()
from channels import services
from journeys import engine

# Die inside the batch's transaction, after its messages were made and before the commit.
real = services.send_many
def send_then_die(requests):
    real(requests)
    os.kill(os.getpid(), signal.SIGKILL)
services.send_many = send_then_die
engine.outbox.send_many = send_then_die
engine.advance_due(limit=int(sys.argv[1]))
"""


@pytest.mark.django_db(transaction=True)
def test_a_sweep_killed_mid_batch_leaves_nothing_stuck_and_sends_nothing_twice(postgres_only):
    due_enrollments(300)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    child = subprocess.run(
        [sys.executable, "-c", KILLED_SWEEP, "100"],
        env=env,
        cwd=Path(settings.BASE_DIR),
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stderr.decode()[-2000:]
    # Its transaction died with it: no message, every enrollment still due.
    assert Message.objects.count() == 0
    assert Enrollment.objects.filter(status="active").count() == 300

    engine.advance_for(seconds=60, limit=100)
    assert Message.objects.count() == 300
    assert len(set(Message.objects.values_list("idempotency_key", flat=True))) == 300
    engine.advance_for(seconds=60, limit=100)  # and again: nothing more
    assert Message.objects.count() == 300


def test_the_due_query_uses_the_partial_index(postgres_only):
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # a tiny table would be scanned anyway
        query = (
            Enrollment.objects.filter(status="active", next_run_at__lte=timezone.now())
            .order_by("next_run_at")
            .values("pk")[:500]
        )
        plan = query.explain()
        cursor.execute("RESET enable_seqscan")
    assert "journeys_enrollment_due" in plan
