"""A campaign run: the audience materialised in SQL, a hold-out that gets nothing, a fan-out in
chunks that pause, resume and cancel stop and restart without sending anyone twice or skipping
anyone."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from campaigns import lifecycle, runs
from campaigns.models import Campaign, CampaignRun, Recipient, Segment
from channels import services as outbox
from channels.models import Channel, Message, Template
from customers.consents import set_consent
from customers.models import Customer
from tests.customers.factories import CustomerFactory, IdentityFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    Channel.objects.create(
        name="Email", kind="email", backend="channels.backends.locmem.LocmemBackend"
    )
    Template.objects.create(
        key="spring", kind="email", locale="en", subject="Spring sale", text="Hi {{ first_name }}"
    )
    for n in range(20):
        customer = CustomerFactory(first_name=f"C{n}", order_count=n % 2)
        IdentityFactory(customer=customer, kind="email", value=f"c{n}@example.org")
        set_consent(customer, channel="email", purpose="marketing", status="granted")
    CustomerFactory.create_batch(5, order_count=0)  # not in the segment
    buyers = Segment.objects.create(
        name="Buyers", rules={"all": [{"field": "order_count", "op": "eq", "value": 1}]}
    )
    campaign = Campaign.objects.create(
        name="Spring", segment=buyers, channels=["email"], template_key="spring", holdout_percent=20
    )
    lifecycle.move(campaign, "schedule")
    return campaign


def drain(run, limit=100):
    for _ in range(limit):
        if not runs.send_chunk(run.pk):
            return
    raise AssertionError("the fan-out did not end")


def test_a_run_sends_to_the_audience_but_not_the_hold_out(campaign):
    run = runs.start(campaign)
    assert (run.audience, run.holdout) == (10, 2)
    drain(run)

    held = set(
        Recipient.objects.filter(run=run, status="held_out").values_list("customer", flat=True)
    )
    messages = Message.objects.filter(idempotency_key__startswith=f"campaign:{run.pk}:")
    assert messages.count() == 8
    assert not messages.filter(customer__in=held).exists()
    assert set(messages.values_list("subject", flat=True)) == {"Spring sale"}
    run.refresh_from_db()
    campaign.refresh_from_db()
    assert (run.status, campaign.status) == ("done", "sent")
    assert runs.start(campaign) is None  # a sent campaign does not run again


def test_pause_resume_and_a_lost_chunk_send_everyone_once(campaign, monkeypatch):
    monkeypatch.setattr(runs, "CHUNK", 3)
    run = runs.start(campaign)
    assert runs.send_chunk(run.pk) == 3
    runs.pause(campaign)
    assert runs.send_chunk(run.pk) == 0  # a paused run sends nothing
    runs.resume(campaign)
    assert runs.send_chunk(run.pk) == 3
    # A chunk whose marks were lost (a worker killed after the outbox, say) runs again:
    Recipient.objects.filter(run=run, status="handed").update(status="pending", message=None)
    drain(run)

    keys = list(
        Message.objects.filter(idempotency_key__startswith=f"campaign:{run.pk}:").values_list(
            "idempotency_key", flat=True
        )
    )
    assert len(keys) == len(set(keys)) == run.audience - run.holdout
    assert not Recipient.objects.filter(run=run, status="pending").exists()
    assert Recipient.objects.filter(run=run, status="handed", message=None).count() == 0


def test_a_chain_goes_on_from_its_place_and_looks_back_once_at_the_end(
    campaign, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(runs, "CHUNK", 3)
    queued = []
    monkeypatch.setattr(runs, "_queue", lambda run_id, **kw: queued.append(kw.get("after", 0)))
    run = runs.start(campaign)
    waiting = sorted(
        Recipient.objects.filter(run=run, status="pending").values_list("customer", flat=True)
    )

    # Another chain holds the first three (or their chunk failed): this one goes on after them.
    with django_capture_on_commit_callbacks(execute=True):
        assert runs.send_chunk(run.pk, after=waiting[2]) == 3
    sent = Message.objects.filter(idempotency_key__startswith=f"campaign:{run.pk}:")
    assert set(sent.values_list("customer", flat=True)) == set(waiting[3:6])
    assert queued[-1] == waiting[5]  # the next chunk starts after the last one claimed

    # Nothing after its place: one more look from the start, not the end of the run.
    with django_capture_on_commit_callbacks(execute=True):
        assert runs.send_chunk(run.pk, after=waiting[-1]) == 0
    assert queued[-1] == 0
    run.refresh_from_db()
    assert run.status == CampaignRun.Status.SENDING

    drain(run)
    assert sorted(sent.values_list("customer", flat=True)) == waiting
    run.refresh_from_db()
    assert run.status == CampaignRun.Status.DONE


def test_a_second_beat_firing_a_recurrence_again_starts_no_second_run(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(
        schedule=Campaign.Schedule.RECURRING, crontab="0 10 * * *", time_zone="Asia/Tehran"
    )
    campaign.refresh_from_db()
    tehran = ZoneInfo("Asia/Tehran")
    ten = dt.datetime(2026, 3, 7, 10, 0, 2, tzinfo=tehran)

    first = runs.start(campaign, now=ten)
    drain(first)
    campaign.refresh_from_db()
    assert campaign.status == "scheduled"  # a recurring campaign waits for its next occurrence

    # The other beat's start for the same 10:00, after the first run finished: nothing.
    assert runs.start(campaign, now=ten + dt.timedelta(seconds=40)) is None
    # The next day's 10:00 runs again.
    assert runs.start(campaign, now=ten + dt.timedelta(days=1)) is not None
    assert CampaignRun.objects.filter(campaign=campaign).count() == 2


def test_cancel_stops_the_rest(campaign, monkeypatch):
    monkeypatch.setattr(runs, "CHUNK", 3)
    run = runs.start(campaign)
    runs.send_chunk(run.pk)
    runs.cancel(campaign)
    assert runs.send_chunk(run.pk) == 0
    run.refresh_from_db()
    assert run.status == CampaignRun.Status.CANCELLED
    assert Message.objects.count() == 3
    assert Recipient.objects.filter(run=run, status="pending").count() == 5
    assert Campaign.objects.get(pk=campaign.pk).status == "cancelled"


def test_the_campaigns_send_window_holds_its_messages(campaign):
    tehran = ZoneInfo("Asia/Tehran")
    campaign.window_start, campaign.window_end = dt.time(10), dt.time(11)
    campaign.holdout_percent = 0
    campaign.save()
    Customer.objects.update(time_zone="Asia/Tehran")
    noon = dt.datetime(2026, 11, 24, 12, 0, tzinfo=tehran)  # a Tuesday, inside 09–21
    with time_machine.travel(noon, tick=False):
        run = runs.start(campaign)
        drain(run)
        message = Message.objects.filter(idempotency_key__startswith="campaign:").first()
        assert outbox.deliver(message.pk) == "deferred"
    message.refresh_from_db()
    assert message.not_before.astimezone(tehran) == dt.datetime(2026, 11, 25, 10, 0, tzinfo=tehran)
