"""Schedules live in django-celery-beat: one periodic task per campaign, gone when it is."""

import datetime as dt
import json

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from campaigns import scheduling
from campaigns.models import Campaign, Segment
from channels.backends import locmem
from channels.models import Channel, Message, Template
from customers.consents import set_consent
from tests.customers.factories import CustomerFactory, IdentityFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    Template.objects.create(key="news", kind="email", locale="en", subject="News", text="Hello")
    segment = Segment.objects.create(name="Everyone", rules={"all": []})
    return Campaign.objects.create(
        name="News", segment=segment, channels=["email"], template_key="news"
    )


def test_at_a_time_is_a_one_off_clocked_task(campaign):
    campaign.schedule, campaign.send_at = "at", timezone.now() + dt.timedelta(minutes=10)
    campaign.save()
    scheduling.schedule(campaign)
    task = PeriodicTask.objects.get(name=f"campaign:{campaign.pk}")
    assert (task.task, json.loads(task.args), task.one_off) == (
        "campaigns.start_run",
        [campaign.pk],
        True,
    )
    assert task.clocked.clocked_time == campaign.send_at

    scheduling.unschedule(campaign)
    assert not PeriodicTask.objects.filter(name=f"campaign:{campaign.pk}").exists()
    assert Campaign.objects.get(pk=campaign.pk).status == "draft"


def test_recurring_is_a_crontab_in_the_campaigns_time_zone(campaign):
    campaign.schedule, campaign.crontab, campaign.time_zone = "recurring", "0 10 * * 6", "Asia/Baku"
    campaign.save()
    scheduling.schedule(campaign)
    crontab = PeriodicTask.objects.get(name=f"campaign:{campaign.pk}").crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week, str(crontab.timezone)) == (
        "0", "10", "6", "Asia/Baku",
    )  # fmt: skip
    scheduling.cancel(campaign)
    assert not PeriodicTask.objects.exists()
    assert Campaign.objects.get(pk=campaign.pk).status == "cancelled"


def test_send_now_runs_and_fans_out_once_scheduling_commits(
    campaign, run_tasks_inline, django_capture_on_commit_callbacks
):
    locmem.reset()
    Channel.objects.create(
        name="Email", kind="email", backend="channels.backends.locmem.LocmemBackend"
    )
    for n in range(3):
        customer = CustomerFactory()
        IdentityFactory(customer=customer, kind="email", value=f"n{n}@example.org")
        set_consent(customer, channel="email", purpose="marketing", status="granted")
    with django_capture_on_commit_callbacks(execute=True):
        scheduling.schedule(campaign)
    assert Message.objects.filter(idempotency_key__startswith="campaign:").count() == 3
    assert Campaign.objects.get(pk=campaign.pk).status == "sent"
    assert not PeriodicTask.objects.exists()
