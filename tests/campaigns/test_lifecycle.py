"""A campaign's status moves only as allowed, each move audited; scheduling checks first."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from campaigns import lifecycle
from campaigns.models import Campaign, CampaignChange, Segment
from channels.models import Template
from customers.errors import DomainError
from tests.customers.factories import CustomerFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    Template.objects.create(key="spring", kind="email", locale="en", subject="Hi", text="Sale")
    segment = Segment.objects.create(name="Everyone", rules={"all": []})
    return Campaign.objects.create(
        name="Spring sale", segment=segment, channels=["email", "sms"], template_key="spring"
    )


def history(campaign):
    return list(
        CampaignChange.objects.filter(campaign=campaign).values_list(
            "action", "from_status", "to_status", "by__username"
        )
    )


def test_the_whole_way_with_a_pause_each_move_audited(campaign):
    marketer = StaffFactory(role="Marketing")
    for action in ("schedule", "start", "pause", "resume", "finish"):
        lifecycle.move(campaign, action, by=marketer)
    campaign.refresh_from_db()
    assert campaign.status == "sent"
    assert history(campaign) == [
        ("schedule", "draft", "scheduled", marketer.username),
        ("start", "scheduled", "sending", marketer.username),
        ("pause", "sending", "paused", marketer.username),
        ("resume", "paused", "sending", marketer.username),
        ("finish", "sending", "sent", marketer.username),
    ]
    assert lifecycle.allowed(campaign) == []


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ((), "pause"),
        ((), "finish"),
        (("schedule",), "resume"),
        (("schedule", "cancel"), "schedule"),
    ],
)
def test_a_move_the_status_does_not_allow_is_refused_and_changes_nothing(campaign, path, refused):
    for action in path:
        lifecycle.move(campaign, action)
    before = campaign.status
    with pytest.raises(DomainError) as caught:
        lifecycle.move(campaign, refused)
    assert (caught.value.code, caught.value.status) == ("not_allowed", 409)
    campaign.refresh_from_db()
    assert campaign.status == before
    assert len(history(campaign)) == len(path)


def test_a_recurring_campaign_goes_back_to_scheduled_after_each_run(campaign):
    campaign.schedule, campaign.crontab = Campaign.Schedule.RECURRING, "0 10 * * 6"
    campaign.save()
    for action in ("schedule", "start", "finish"):
        lifecycle.move(campaign, action)
    assert campaign.status == "scheduled"


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"template_key": "autumn"}, "no active template autumn"),
        ({"channels": []}, "at least one channel"),
        ({"schedule": "at", "send_at": timezone.now() - dt.timedelta(minutes=1)}, "future"),
        ({"schedule": "recurring", "crontab": "0 25 * * *"}, "five fields"),
        ({"window_start": dt.time(9)}, "both a start and an end"),
    ],
)
def test_scheduling_says_what_stops_the_campaign(campaign, changes, says):
    for name, value in changes.items():
        setattr(campaign, name, value)
    campaign.save()
    with pytest.raises(DomainError) as caught:
        lifecycle.move(campaign, "schedule")
    assert caught.value.code == "not_sendable"
    assert says in caught.value.message
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_a_large_audience_needs_the_approve_permission(campaign, settings):
    settings.CAMPAIGN_APPROVAL_SIZE = 2
    CustomerFactory.create_batch(3)
    marketer = StaffFactory(role="Marketing")
    with pytest.raises(DomainError) as caught:
        lifecycle.move(campaign, "schedule", by=marketer)
    assert (caught.value.code, caught.value.status) == ("needs_approval", 403)
    assert "3" in caught.value.message

    approver = StaffFactory(role="Marketing")
    approver.user_permissions.add(Permission.objects.get(codename="approve_campaign"))
    lifecycle.move(campaign, "schedule", by=approver)
    assert campaign.status == "scheduled"
