import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.cache import cache
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from config.celery import app
from config.schedules import DEFAULT_SCHEDULES
from customers.tasks import HEARTBEAT_KEY, heartbeat

# Real workers consume the one configured broker queue: every test here runs in one xdist
# process, or a worker of one test process would take another's task (and database).
pytestmark = pytest.mark.xdist_group("celery-broker")


@pytest.fixture
def celery_worker_on_configured_broker(settings):
    """A real worker thread on the configured broker (filesystem:// or Redis in CI). The queue
    is emptied before and after, so no task of another test (a retry waiting for its time)
    reaches this test's worker and database."""
    app.control.purge()
    with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        yield
    app.control.purge()


@pytest.mark.django_db
def test_a_real_worker_runs_the_heartbeat_through_the_broker(celery_worker_on_configured_broker):
    cache.delete(HEARTBEAT_KEY)
    heartbeat.delay()
    deadline = time.monotonic() + 60  # generous: CI machines can be busy
    while cache.get(HEARTBEAT_KEY) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert cache.get(HEARTBEAT_KEY) is not None


@pytest.mark.django_db
def test_setup_schedules_creates_each_schedule_once_and_keeps_staff_edits():
    call_command("setup_schedules")
    task = PeriodicTask.objects.get(name=DEFAULT_SCHEDULES[0]["name"])
    task.enabled = False
    task.save()
    call_command("setup_schedules")
    assert PeriodicTask.objects.filter(name=DEFAULT_SCHEDULES[0]["name"]).count() == 1
    assert PeriodicTask.objects.get(pk=task.pk).enabled is False


@pytest.mark.django_db(transaction=True)
def test_a_queued_message_is_delivered_by_a_real_worker_and_shows_on_the_timeline(
    celery_worker_on_configured_broker,
):
    from channels import services
    from channels.backends import locmem
    from channels.models import Channel, Message
    from customers.models import Interaction
    from tests.customers.factories import CustomerFactory, IdentityFactory

    locmem.outbox.clear()
    Channel.objects.create(
        name="Email", kind="email", backend="channels.backends.locmem.LocmemBackend"
    )
    customer = CustomerFactory()
    IdentityFactory(customer=customer, kind="email", value="worker@example.org")
    message = services.send(
        customer,
        purpose="transactional",
        idempotency_key="integration:1",
        channels=["email"],
        content=services.Content("Your order has shipped", "Shipped"),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        message.refresh_from_db()
        if message.status not in (Message.Status.QUEUED, Message.Status.SENDING):
            break
        time.sleep(0.25)
    assert message.status == Message.Status.SENT
    assert [m.to for m in locmem.outbox] == ["worker@example.org"]
    names = Interaction.objects.filter(customer=customer, type="message").values_list(
        "name", flat=True
    )
    assert set(names) == {"Message Queued", "Message Sent"}
