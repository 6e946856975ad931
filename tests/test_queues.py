"""Queues split by work (config/queues.py): every task of ours has a named queue under the
process's prefix, a worker without -Q consumes them all, and delivery goes to the queue of each
message's channel kind, chosen when it is enqueued."""

import pytest
from celery.signals import before_task_publish
from django.core import checks

from channels import services
from channels.backends import locmem
from channels.models import Channel, Message
from config import queues
from config.celery import app
from config.schedules import DEFAULT_SCHEDULES
from tests.channels.factories import ChannelFactory, MessageFactory
from tests.customers.factories import CustomerFactory, IdentityFactory

APPS = ("customers", "channels", "commerce", "journeys", "campaigns", "insights", "security")


@pytest.fixture
def published():
    """(task name, queue) of every task this test publishes, read from the message Celery
    hands the broker; the broker's queues are emptied afterwards (nothing consumes them)."""
    sent = []

    def record(sender=None, routing_key=None, **kwargs):
        sent.append((sender, routing_key))

    before_task_publish.connect(record, weak=False)
    yield sent
    before_task_publish.disconnect(record)
    app.control.purge()


def queue_of(task_name, **options):
    return app.amqp.router.route(options, task_name)["queue"].name


def test_every_task_of_ours_has_a_named_queue_under_the_prefix():
    app.loader.import_default_modules()
    prefix = app.conf.task_default_queue
    ours = [name for name in app.tasks if name.partition(".")[0] in APPS]
    assert "campaigns.send_chunk" in ours
    routed = {name: queue_of(name) for name in ours}
    allowed = set(queues.names(prefix)) - {prefix}
    assert {name: q for name, q in routed.items() if q not in allowed} == {}
    assert set(queues.TASKS) <= set(ours)  # no stale entry
    scheduled = {schedule["task"] for schedule in DEFAULT_SCHEDULES}
    assert {routed[name] for name in scheduled} == {f"{prefix}.sweeps"}


@pytest.mark.parametrize(
    ("task", "work"),
    [
        ("journeys.advance_due", "sweeps"),
        ("channels.dispatch_due", "sweeps"),
        ("customers.heartbeat", "sweeps"),
        ("campaigns.send_chunk", "campaigns"),
        ("campaigns.start_run", "campaigns"),
        ("commerce.send_alert_confirmation", "delivery.email"),
        ("customers.process_events", "ingest"),  # a task added later goes by its app
        ("customers.ensure_partitions", "sweeps"),  # … unless beat runs it
    ],
)
def test_a_task_goes_to_the_queue_of_its_work(task, work):
    assert queue_of(task) == f"{app.conf.task_default_queue}.{work}"


def test_a_callers_explicit_queue_wins_and_a_task_not_ours_keeps_the_default_queue():
    assert queue_of("channels.deliver_message", queue="elsewhere") == "elsewhere"
    assert queue_of("celery.chord_unlock") == app.conf.task_default_queue


def test_a_worker_without_q_consumes_every_queue_of_its_prefix():
    prefix = app.conf.task_default_queue
    assert set(app.amqp.queues) >= set(queues.names(prefix))
    assert f"{prefix}.delivery.sms" in queues.names(prefix)
    assert queues.names("crm")[:3] == ["crm", "crm.ingest", "crm.delivery.email"]


@pytest.mark.parametrize(
    ("kind", "queue"),
    [
        ("email", "delivery.email"),
        ("sms", "delivery.sms"),
        ("push", "delivery.push"),
        ("whatsapp", "delivery.messenger"),
        ("telegram", "delivery.messenger"),
        ("webhook", "delivery.messenger"),
        ("carrier-pigeon", "delivery.other"),
    ],
)
def test_each_channel_kind_has_its_delivery_queue(kind, queue):
    assert queues.delivery(kind, "crm") == f"crm.{queue}"


@pytest.mark.django_db
def test_a_fan_out_of_mixed_kinds_is_split_by_kind_at_enqueue(
    published, django_capture_on_commit_callbacks, settings
):
    settings.DELIVERY_TASK_CHUNK = 2
    prefix = app.conf.task_default_queue
    email = ChannelFactory(kind="email")
    sms = ChannelFactory(kind="sms", name="SMS")
    push = ChannelFactory(kind="push", name="Push")
    messages = [
        *MessageFactory.create_batch(3, channel=email, status="queued"),
        MessageFactory(channel=sms, status="queued"),
        *MessageFactory.create_batch(2, channel=push, status="queued"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        services.enqueue_many(messages)
    assert sorted(published) == sorted(
        [
            ("channels.deliver_messages", f"{prefix}.delivery.email"),  # 2 + 1: chunks of 2
            ("channels.deliver_messages", f"{prefix}.delivery.email"),
            ("channels.deliver_message", f"{prefix}.delivery.sms"),
            ("channels.deliver_messages", f"{prefix}.delivery.push"),
        ]
    )


@pytest.mark.django_db
def test_bare_ids_of_a_sweep_cost_one_query_for_their_kinds(
    published, django_capture_on_commit_callbacks, django_assert_num_queries
):
    prefix = app.conf.task_default_queue
    sms = ChannelFactory(kind="sms", name="SMS")
    whatsapp = ChannelFactory(kind="whatsapp", name="WhatsApp")
    ids = [
        MessageFactory(channel=sms, status="queued").pk,
        MessageFactory(channel=whatsapp, status="queued").pk,
        MessageFactory(channel=whatsapp, status="queued").pk,
    ]
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(1):
        services.enqueue_many(ids)
    assert sorted(published) == [
        ("channels.deliver_message", f"{prefix}.delivery.sms"),
        ("channels.deliver_messages", f"{prefix}.delivery.messenger"),
    ]


@pytest.mark.django_db
def test_a_retry_waits_on_the_queue_of_its_kind(published, django_capture_on_commit_callbacks):
    locmem.reset()
    Channel.objects.create(
        name="SMS",
        kind="sms",
        backend="channels.backends.locmem.LocmemBackend",
        settings={"fail": "transient"},
    )
    customer = CustomerFactory()
    IdentityFactory(customer=customer, kind="phone", value="+989121234567")
    with django_capture_on_commit_callbacks(execute=True):
        message = services.send(
            customer,
            purpose="transactional",
            idempotency_key="queues:retry",
            channels=["sms"],
            content=services.Content("Your code is 1234"),
        )
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.deliver(message.pk) == "retry"
    assert published == [
        ("channels.deliver_message", f"{app.conf.task_default_queue}.delivery.sms")
    ]
    assert Message.objects.get(pk=message.pk).status == "queued"


def test_a_visibility_timeout_shorter_than_the_longest_countdown_is_a_warning(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/3"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 7200}
    assert queues.check_visibility_timeout() == []
    settings.DELIVERY_RETRY_BASE_SECONDS = 600  # last back-off: 600 × 2⁴ = 9600 s
    (warning,) = queues.check_visibility_timeout()
    assert (warning.level, warning.id) == (checks.WARNING, "config.W001")
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
    assert queues.check_visibility_timeout() == []  # RabbitMQ has no visibility timeout
