"""The campaign story, through the back office as a marketer uses it: a segment, a campaign with
email and SMS content in Persian and English scheduled ten minutes ahead; beat's entry falls due
and fires it; each customer gets it once on their best consented channel in their language; the
hold-out gets nothing; an order inside the goal window counts, with its revenue."""

import datetime as dt
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from campaigns import results
from campaigns import tasks as campaign_tasks  # registers the task beat names
from campaigns.models import Campaign, CampaignRun, Recipient, Segment
from channels.backends import locmem
from channels.models import Channel, Template
from commerce.services import LineInput, OrderInput, place_order
from config.celery import app
from customers.consents import set_consent
from tests.customers.factories import CustomerFactory, IdentityFactory, StaffFactory

pytestmark = pytest.mark.django_db

TEHRAN = ZoneInfo("Asia/Tehran")
T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=TEHRAN)  # a Tuesday morning
CONSIDERING = {"field": "stage", "op": "in", "value": ["consideration"]}


@pytest.fixture
def world():
    locmem.reset()
    for kind in ("email", "sms"):
        Channel.objects.create(
            name=kind, kind=kind, backend="channels.backends.locmem.LocmemBackend"
        )
    content = {
        ("email", "en"): ("Spring sale", "Hi {{ first_name }}, 20% off."),
        ("email", "fa"): ("حراج بهاره", "سلام {{ first_name }}، ۲۰٪ تخفیف."),
        ("sms", "en"): ("", "Spring sale: 20% off. STOP to opt out"),
        ("sms", "fa"): ("", "حراج بهاره: ۲۰٪ تخفیف. لغو۱۱"),
    }
    for (kind, locale), (subject, text) in content.items():
        Template.objects.create(key="spring", kind=kind, locale=locale, subject=subject, text=text)
    people = {}
    for n in range(3):
        # Persian readers with email and SMS consent: email comes first.
        sara = CustomerFactory(
            first_name=f"سارا{n}", locale="fa", time_zone="Asia/Tehran", stage="consideration"
        )
        IdentityFactory(customer=sara, kind="email", value=f"sara{n}@example.org")
        IdentityFactory(customer=sara, kind="phone", value=f"+98912000000{n}")
        for channel in ("email", "sms"):
            set_consent(sara, channel=channel, purpose="marketing", status="granted")
        # English readers reachable by SMS only: an email without consent.
        ali = CustomerFactory(
            first_name=f"Ali{n}", locale="en", time_zone="Asia/Tehran", stage="consideration"
        )
        IdentityFactory(customer=ali, kind="email", value=f"ali{n}@example.org")
        IdentityFactory(customer=ali, kind="phone", value=f"+98912100000{n}")
        set_consent(ali, channel="sms", purpose="marketing", status="granted")
        # Not in the segment.
        CustomerFactory(stage="purchase", locale="en")
        people[sara.pk], people[ali.pk] = ("email", "fa"), ("sms", "en")
    return people


def test_a_marketer_schedules_a_campaign_that_beat_sends_and_results_count(
    world, client, run_tasks_inline, django_capture_on_commit_callbacks
):
    with time_machine.travel(T0, tick=False):
        # Signed in at T0: a staff sign-in lasts 12 hours (SESSION_COOKIE_AGE).
        client.force_login(StaffFactory(role="Marketing"))
        response = client.post(
            reverse("admin:campaigns_segment_add"),
            {"name": "Considering", "description": "", "kind": "dynamic", "_save": "Save",
             "rules": json.dumps({"all": [CONSIDERING]})},
        )  # fmt: skip
        assert response.status_code == 302, response.content
        segment = Segment.objects.get(name="Considering")
        send_at = T0 + dt.timedelta(minutes=10)
        response = client.post(
            reverse("admin:campaigns_campaign_add"),
            {"name": "Spring", "segment": str(segment.pk), "channels_0": "email",
             "channels_1": "sms", "channels_2": "", "channels_3": "", "channels_4": "",
             "channels_5": "", "template_key": "spring", "holdout_percent": "20",
             "goal_event": "Order Completed", "goal_window": "5 00:00:00",
             "throttle_per_minute": "0", "window_start": "", "window_end": "", "schedule": "at",
             "send_at_0": send_at.strftime("%Y-%m-%d"), "send_at_1": send_at.strftime("%H:%M"),
             "crontab": "", "time_zone": "Asia/Tehran", "_save": "Save"},
        )  # fmt: skip
        assert response.status_code == 302, response.content
        campaign = Campaign.objects.get(name="Spring")
        assert campaign.send_at == send_at
        response = client.post(reverse("admin:campaigns_campaign_schedule", args=[campaign.pk]))
        assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == "scheduled"

    entry = ModelEntry(PeriodicTask.objects.get(name=f"campaign:{campaign.pk}"), app=app)
    with time_machine.travel(T0 + dt.timedelta(minutes=9), tick=False):
        assert not entry.is_due().is_due
        assert locmem.outbox == []
    with time_machine.travel(T0 + dt.timedelta(minutes=10, seconds=5), tick=False):
        assert entry.is_due().is_due
        with django_capture_on_commit_callbacks(execute=True):
            assert entry.task == campaign_tasks.start_run.name
            app.tasks[entry.task].apply(args=entry.args)  # what beat sends to the workers

    run = CampaignRun.objects.get(campaign=campaign)
    held = set(
        Recipient.objects.filter(run=run, status="held_out").values_list("customer", flat=True)
    )
    assert (run.audience, len(held)) == (6, 1)
    got = {}
    for sent in locmem.outbox:
        customer = next(pk for pk in world if sent.customer_public_id == str(_public_id(pk)))
        got.setdefault(customer, []).append((sent.kind, sent.locale))
    assert set(got) == set(world) - held  # everyone once, the hold-out nobody
    for customer, messages in got.items():
        assert messages == [world[customer]]
    assert any("حراج" in sent.subject for sent in locmem.outbox if sent.kind == "email")
    campaign.refresh_from_db()
    assert campaign.status == "sent"

    buyer = next(iter(got))
    with time_machine.travel(T0 + dt.timedelta(days=2), tick=False):
        place_order(
            _customer(buyer),
            OrderInput(external_id="W-77", channel="web", total=Decimal("250000"),
                       lines=[LineInput(sku="SCARF", quantity=1, price=Decimal("250000"))]),
        )  # fmt: skip
    figures = results.for_run(run)
    assert (figures.converted, figures.revenue) == (1, Decimal("250000"))
    assert figures.holdout_converted == 0


def _customer(pk):
    from customers.models import Customer

    return Customer.objects.get(pk=pk)


def _public_id(pk):
    return _customer(pk).public_id
