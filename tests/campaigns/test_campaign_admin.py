"""The campaign admin: a marketer writes a draft, sees its content per channel and language,
schedules it with a button (or is told why not), pauses, resumes and cancels it, and sends a
test to themselves; past draft the page is read-only; support agents see none of it."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from campaigns import lifecycle, runs
from campaigns.admin.campaign import describe_crontab, schedule_summary
from campaigns.models import Campaign, CampaignChange, Segment
from channels.backends import locmem
from channels.models import Channel, Template
from tests.customers.factories import CustomerFactory, StaffFactory

pytestmark = pytest.mark.django_db

CAMPAIGNS = reverse("admin:campaigns_campaign_changelist")
ADD = reverse("admin:campaigns_campaign_add")
UTC = dt.UTC


def login(client, role, **fields):
    user = StaffFactory(role=role, **fields)
    client.force_login(user)
    return user


@pytest.fixture
def marketer(client):
    return login(client, "Marketing", email="mina@example.org", first_name="Mina")


@pytest.fixture
def segment():
    return Segment.objects.create(name="Buyers", rules={"all": []})


@pytest.fixture
def email_channel():
    locmem.reset()
    yield Channel.objects.create(
        name="Email", kind="email", backend="channels.backends.locmem.LocmemBackend"
    )
    locmem.reset()


@pytest.fixture
def spring(segment):
    Template.objects.create(
        key="spring", kind="email", locale="en", subject="Spring sale", text="Hi {{ first_name }}"
    )
    return Campaign.objects.create(
        name="Spring",
        segment=segment,
        channels=["email"],
        template_key="spring",
        schedule="at",
        send_at=timezone.now() + dt.timedelta(days=2),
    )


def url(name, campaign):
    return reverse(f"admin:campaigns_campaign_{name}", args=[campaign.pk])


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def form(segment, **fields):
    """The add form as a browser posts it."""
    return {
        "name": "Spring sale",
        "segment": str(segment.pk),
        "channels_0": "email",
        "channels_1": "sms",
        "channels_2": "",
        "channels_3": "",
        "channels_4": "",
        "channels_5": "",
        "template_key": "spring",
        "holdout_percent": "10",
        "goal_event": "Order Completed",
        "goal_window": "5 00:00:00",
        "throttle_per_minute": "0",
        "window_start": "",
        "window_end": "",
        "schedule": "at",
        "send_at_0": "2030-11-24",
        "send_at_1": "10:00",
        "crontab": "",
        "time_zone": "Asia/Tehran",
        "_save": "Save",
        **fields,
    }


# --- The form -------------------------------------------------------------------------------------


def test_a_marketer_writes_a_draft_and_sees_which_templates_exist(client, marketer, segment):
    Template.objects.create(key="spring", kind="email", locale="en", subject="S", text="T")
    Template.objects.create(key="spring", kind="sms", locale="fa", text="T", active=False)
    page = client.get(ADD)
    assert page.status_code == 200
    assert 'name="channels_0"' in page.content.decode()
    assert '<datalist id="campaign-template-keys">' in page.content.decode()

    response = client.post(ADD, form(segment))
    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign = Campaign.objects.get()
    assert campaign.channels == ["email", "sms"]
    assert (campaign.status, campaign.created_by, campaign.holdout_percent) == (
        "draft",
        marketer,
        10,
    )
    # 10:00 in Tehran (UTC+03:30), whatever the viewer's own time zone.
    assert campaign.send_at == dt.datetime(2030, 11, 24, 6, 30, tzinfo=UTC)
    assert campaign.goal_window == dt.timedelta(days=5)

    page = client.get(url("change", campaign))
    html = page.content.decode()
    assert page.status_code == 200
    shown = page.context["adminform"].form["send_at"].value()  # the wall time in Tehran
    assert (shown.tzinfo, shown.isoformat()) == (None, "2030-11-24T10:00:00")
    cells = {
        (row["channel"]["value"], cell["language"]): cell["state"]
        for row in page.context["content"]["rows"]
        for cell in row["cells"]
    }
    assert cells[("email", "en")] == "active"
    assert cells[("sms", "fa")] == "inactive"
    assert cells[("email", "fa")] == cells[("sms", "en")] == "missing"
    assert len(cells) == 8  # two channels, four languages
    email_en = Template.objects.get(key="spring", kind="email")
    assert reverse("admin:channels_template_change", args=[email_en.pk]) in html
    assert "Content per channel and language" in html
    assert "at 2030-11-24 10:00 Asia/Tehran" in html
    assert 'class="button default crm-campaign-schedule"' in html


def test_the_form_refuses_what_cannot_be_sent(client, marketer, segment):
    response = client.post(
        ADD,
        form(
            segment,
            channels_1="email",
            schedule="recurring",
            crontab="every saturday",
            holdout_percent="60",
            window_start="09:00",
        ),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"channels", "crontab", "holdout_percent", "window_end"}
    assert "more than once" in str(errors["channels"])

    response = client.post(ADD, form(segment, channels_0="", channels_1=""))
    assert "Choose at least one channel." in str(response.context["adminform"].form.errors)
    assert not Campaign.objects.exists()


def test_gaps_between_channel_choices_are_closed(client, marketer, segment):
    client.post(ADD, form(segment, channels_0="", channels_1="sms", channels_3="email"))
    assert Campaign.objects.get().channels == ["sms", "email"]


# --- Buttons --------------------------------------------------------------------------------------


def test_scheduling_with_the_button_puts_it_on_the_beat_and_in_the_audit(client, marketer, spring):
    response = client.post(url("schedule", spring))
    assert response.status_code == 302
    assert response.url == url("change", spring)
    spring.refresh_from_db()
    assert spring.status == "scheduled"
    assert PeriodicTask.objects.filter(name=f"campaign:{spring.pk}").exists()
    assert any("is scheduled" in m for m in messages_of(response))
    change = CampaignChange.objects.get(campaign=spring)
    assert (change.action, change.from_status, change.to_status, change.by) == (
        "schedule",
        "draft",
        "scheduled",
        marketer,
    )

    page = client.get(url("change", spring))
    html = page.content.decode()
    audit = re.search(
        r'<tr class="crm-campaign-change" data-action="schedule">(.*?)</tr>', html, re.S
    )
    assert audit
    assert ">Mina<" in audit.group(1)
    assert "Draft" in audit.group(1)
    assert "Scheduled" in audit.group(1)
    assert [b["action"] for b in page.context["campaign_buttons"]] == ["unschedule", "cancel"]

    response = client.post(url("unschedule", spring))
    spring.refresh_from_db()
    assert spring.status == "draft"
    assert not PeriodicTask.objects.exists()


def test_a_campaign_without_templates_cannot_be_scheduled_and_the_page_says_why(
    client, marketer, segment
):
    campaign = Campaign.objects.create(
        name="Empty", segment=segment, channels=["email", "sms"], template_key="nothing"
    )
    page = client.get(url("change", campaign))
    assert any("no active template" in p for p in page.context["sendable_problems"])

    response = client.post(url("schedule", campaign), follow=True)
    assert response.status_code == 200
    campaign.refresh_from_db()
    assert campaign.status == "draft"
    assert not PeriodicTask.objects.exists()
    assert any("There is no active template nothing" in m for m in messages_of(response))
    assert "There is no active template nothing" in response.content.decode()


def test_pause_resume_and_cancel_do_what_they_say(client, marketer, spring):
    CustomerFactory.create_batch(3)
    client.post(url("schedule", spring))
    run = runs.start(spring)
    spring.refresh_from_db()
    assert spring.status == "sending"
    page = client.get(url("change", spring))
    assert [b["action"] for b in page.context["campaign_buttons"]] == ["pause", "cancel"]
    assert page.context["runs"][0]["run"] == run
    assert f'data-run="{run.pk}"' in page.content.decode()
    assert not page.context["test_send_url"]  # only drafts and scheduled campaigns

    response = client.post(url("pause", spring))
    spring.refresh_from_db()
    run.refresh_from_db()
    assert (spring.status, run.status) == ("paused", "paused")
    assert any("is paused" in m for m in messages_of(response))

    client.post(url("resume", spring))
    spring.refresh_from_db()
    run.refresh_from_db()
    assert (spring.status, run.status) == ("sending", "sending")

    client.post(url("cancel", spring))
    spring.refresh_from_db()
    run.refresh_from_db()
    assert (spring.status, run.status) == ("cancelled", "cancelled")
    actions = list(
        CampaignChange.objects.filter(campaign=spring).values_list("action", "by__username")
    )
    assert actions == [
        ("schedule", marketer.username),
        ("start", None),
        ("pause", marketer.username),
        ("resume", marketer.username),
        ("cancel", marketer.username),
    ]
    page = client.get(url("change", spring))
    assert page.context["campaign_buttons"] == []


def test_a_move_the_status_does_not_allow_is_an_error_message_not_a_crash(client, marketer, spring):
    response = client.post(url("pause", spring), follow=True)
    assert response.status_code == 200
    assert any("not possible" in m for m in messages_of(response))
    spring.refresh_from_db()
    assert spring.status == "draft"


def test_buttons_take_only_posts(client, marketer, spring):
    assert client.get(url("schedule", spring)).status_code == 405
    assert client.get(url("test_send", spring)).status_code == 405


# --- Read-only past draft -----------------------------------------------------------------------


def test_a_scheduled_campaign_is_read_only_and_cannot_be_deleted(client, marketer, spring):
    lifecycle.move(spring, "schedule")
    page = client.get(url("change", spring))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="_save"' not in html
    assert 'name="channels_0"' not in html
    assert "✉️" in html  # the channels, shown as badges

    response = client.post(url("change", spring), form(spring.segment, name="Renamed"))
    assert response.status_code == 403
    spring.refresh_from_db()
    assert (spring.name, spring.channels, spring.status) == ("Spring", ["email"], "scheduled")
    assert client.post(url("delete", spring), {"post": "yes"}).status_code == 403
    assert Campaign.objects.filter(pk=spring.pk).exists()


def test_a_draft_can_be_edited_and_deleted(client, marketer, spring):
    response = client.post(url("change", spring), form(spring.segment, name="Renamed"))
    assert response.status_code == 302
    spring.refresh_from_db()
    assert (spring.name, spring.channels) == ("Renamed", ["email", "sms"])
    client.post(url("delete", spring), {"post": "yes"})
    assert not Campaign.objects.exists()


# --- Approval -----------------------------------------------------------------------------------


def test_a_large_audience_needs_someone_who_may_approve(client, marketer, spring, settings):
    settings.CAMPAIGN_APPROVAL_SIZE = 2
    CustomerFactory.create_batch(3)
    response = client.post(url("schedule", spring), follow=True)
    spring.refresh_from_db()
    assert spring.status == "draft"
    assert any("approve campaign" in m for m in messages_of(response))

    approver = StaffFactory(role="Marketing")
    approver.user_permissions.add(Permission.objects.get(codename="approve_campaign"))
    client.force_login(approver)
    client.post(url("schedule", spring))
    spring.refresh_from_db()
    assert spring.status == "scheduled"
    assert spring.changes.get().by == approver


# --- Test send ----------------------------------------------------------------------------------


def test_a_test_send_reaches_only_the_marketer(client, marketer, spring, email_channel):
    CustomerFactory(first_name="Sara")
    response = client.post(url("test_send", spring))
    assert response.status_code == 302
    assert [(m.to, m.subject, m.purpose) for m in locmem.outbox] == [
        ("mina@example.org", "[Test] Spring sale", "transactional")
    ]
    assert locmem.outbox[0].text == "Hi Sara"  # a member of the segment as the sample
    assert any("mina@example.org" in m for m in messages_of(response))
    from channels.models import Message

    assert not Message.objects.exists()  # nobody's outbox or timeline


def test_a_test_send_without_a_segment_member_uses_the_marketers_name(
    client, marketer, spring, email_channel
):
    client.post(url("test_send", spring))
    assert locmem.outbox[0].text == "Hi Mina"


def test_a_test_send_needs_an_email_address_and_a_template(client, spring, email_channel):
    login(client, "Marketing", email="")
    response = client.post(url("test_send", spring))
    assert any("no email address" in m for m in messages_of(response))
    assert locmem.outbox == []

    login(client, "Marketing", email="ali@example.org")
    spring.template_key = "nothing"
    spring.save()
    response = client.post(url("test_send", spring))
    assert any("no active email template" in m for m in messages_of(response))
    assert locmem.outbox == []


# --- Who sees what ------------------------------------------------------------------------------


def test_support_agents_see_none_of_it(client, spring, email_channel):
    login(client, "Support agent", email="sam@example.org")
    assert client.get(CAMPAIGNS).status_code == 403
    assert client.get(url("change", spring)).status_code == 403
    for action in ("schedule", "cancel", "test_send"):
        assert client.post(url(action, spring)).status_code == 403
    spring.refresh_from_db()
    assert spring.status == "draft"
    assert locmem.outbox == []


# --- The list -----------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [3, 30])
def test_the_list_reads_a_fixed_number_of_queries(
    client, marketer, segment, count, django_assert_max_num_queries
):
    for n in range(count):
        Campaign.objects.create(
            name=f"Campaign {n}",
            segment=segment,
            channels=["email", "sms"],
            template_key="k",
            schedule=["now", "at", "recurring"][n % 3],
            send_at=dt.datetime(2030, 1, 1, 8, 0, tzinfo=UTC),
            crontab="0 10 * * 6",
        )
    with django_assert_max_num_queries(8):
        page = client.get(CAMPAIGNS)
    html = page.content.decode()
    assert html.count('class="crm-campaign-status crm-campaign-draft"') == count
    assert "at 2030-01-01 11:30 Asia/Tehran" in html
    assert "Every Saturday at 10:00 Asia/Tehran" in html


def test_the_list_filters_by_status_and_schedule(client, marketer, spring):
    assert client.get(CAMPAIGNS, {"status__exact": "sent"}).context["cl"].result_count == 0
    assert client.get(CAMPAIGNS, {"schedule__exact": "at"}).context["cl"].result_count == 1
    assert client.get(CAMPAIGNS, {"q": "spri"}).context["cl"].result_count == 1


def test_recurrences_read_in_words():
    assert describe_crontab("30 9 * * *") == "Every day at 09:30"
    assert describe_crontab("0 10 * * 1,3") == "Every Monday, Wednesday at 10:00"
    assert describe_crontab("0 10 * * 0") == "Every Sunday at 10:00"
    assert describe_crontab("*/5 * 1 * *") == "Recurring (*/5 * 1 * *)"
    assert schedule_summary(Campaign(schedule="now")) == "Send now"
