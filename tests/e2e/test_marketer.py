"""A marketer working in English, in a real browser: builds a segment in the rule builder and
watches its live count, creates a campaign with content, schedules it for later, and — once beat
has started its run — opens the run's results with their charts."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from campaigns import tasks as campaign_tasks
from campaigns.models import Campaign, CampaignRun, Segment
from channels.backends import locmem
from channels.models import Channel, Template
from commerce.services import LineInput, OrderInput, place_order
from customers.consents import set_consent
from customers.roles import MARKETING
from tests.customers.factories import CustomerFactory, IdentityFactory, StaffFactory
from tests.e2e.conftest import assert_left_to_right, log_in

SEGMENT = "Considering a purchase"
CAMPAIGN = "Winter scarves"


@pytest.fixture
def audience(settings):
    """Four customers considering a purchase, reachable by email; two who already bought."""
    settings.DELIVERY_SEND_WINDOW = ""  # the story may run at any hour
    locmem.reset()
    Channel.objects.create(
        name="Email", kind="email", backend="channels.backends.locmem.LocmemBackend"
    )
    Template.objects.create(
        key="winter", kind="email", locale="en", subject="Winter scarves",
        text="Hi {{ first_name }}, our winter scarves are in.",
    )  # fmt: skip
    considering = []
    for name in ["Ada", "Grace", "Alan", "Edsger"]:
        customer = CustomerFactory(first_name=name, stage="consideration", locale="en")
        IdentityFactory(customer=customer, kind="email", value=f"{name.lower()}@example.org")
        set_consent(customer, channel="email", purpose="marketing", status="granted")
        considering.append(customer)
    for name in ["Barbara", "Donald"]:
        CustomerFactory(first_name=name, stage="purchase", locale="en")
    return considering


def test_a_marketer_builds_a_segment_schedules_a_campaign_and_reads_its_results(
    audience, open_page, shoot, run_tasks_inline
):
    marketer = StaffFactory(username="marta", email="marta@example.org", role=MARKETING)
    page = open_page(locale="en-US", time_zone="UTC")
    log_in(page, marketer)

    # A segment from the rule builder: lifecycle stage is "consideration".
    page.goto("/admin/campaigns/segment/add/")
    assert_left_to_right(page)
    page.fill("#id_name", SEGMENT)
    page.click("#segment-builder .crm-sb-add-rule")
    page.select_option("#segment-builder .crm-sb-field", "stage")
    page.check("#segment-builder .crm-sb-stages input[value=consideration]")
    # The live count refreshes by itself once the marketer pauses.
    result = page.locator("#segment-preview .crm-segment-result")
    page.wait_for_function(
        "() => /\\b4\\b/.test(document.querySelector('#segment-preview .crm-segment-result')"
        ".textContent)"
    )
    assert page.locator("#segment-preview .crm-segment-sample tbody tr").count() == 4
    shoot(page, "segment-live-count")
    assert "4" in result.inner_text()
    page.click("input[name=_continue]")
    page.wait_for_url(re.compile(r"/admin/campaigns/segment/\d+/change/"))
    segment = Segment.objects.get(name=SEGMENT)
    assert segment.rules == {"all": [{"field": "stage", "op": "in", "value": ["consideration"]}]}
    assert page.locator(".crm-segment-count-now").get_attribute("data-count") == "4"

    # A campaign on that segment, with its email content, to go out in an hour.
    page.goto("/admin/campaigns/campaign/add/")
    page.fill("#id_name", CAMPAIGN)
    page.click(".field-segment .select2-selection")
    page.fill(".select2-search__field", "Considering")
    page.click(f".select2-results__option >> text={SEGMENT}")
    page.select_option("#id_channels_0", "email")
    page.fill("#id_template_key", "winter")
    page.fill("#id_holdout_percent", "25")
    page.select_option("#id_schedule", "at")
    send_at = (timezone.now() + timedelta(hours=1)).replace(second=0, microsecond=0)
    page.fill("#id_send_at_0", send_at.strftime("%Y-%m-%d"))
    page.fill("#id_send_at_1", send_at.strftime("%H:%M"))
    page.select_option("#id_time_zone", "UTC")
    assert page.locator(".form-row.field-crontab").is_hidden()  # only "at" fields show
    shoot(page, "campaign-form")
    page.click("input[name=_continue]")
    page.wait_for_url(re.compile(r"/admin/campaigns/campaign/\d+/change/"))
    campaign = Campaign.objects.get(name=CAMPAIGN)
    assert (campaign.segment, campaign.channels, campaign.send_at) == (segment, ["email"], send_at)
    # Its content: the English email template is there.
    assert page.locator("#campaign-content td[data-language=en]").first.inner_text().strip()
    assert not page.locator(".crm-campaign-problems").count()

    # Schedules it; beat holds a one-off entry for its time.
    page.click("button.crm-campaign-schedule")
    page.wait_for_url(re.compile(rf"/admin/campaigns/campaign/{campaign.pk}/change/"))
    assert "scheduled" in page.locator(".messagelist .success").inner_text()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED
    entry = PeriodicTask.objects.get(name=f"campaign:{campaign.pk}")
    assert entry.clocked.clocked_time == send_at
    shoot(page, "campaign-scheduled")

    # The time comes: what beat hands the workers, run here (tasks run inline).
    campaign_tasks.start_run.apply(args=[campaign.pk])
    run = CampaignRun.objects.get(campaign=campaign)
    assert (run.audience, run.holdout) == (4, 1)
    assert len(locmem.outbox) == 3
    # One recipient buys within the goal window.
    reached = {sent.customer_public_id for sent in locmem.outbox}
    buyer = next(customer for customer in audience if str(customer.public_id) in reached)
    place_order(
        buyer,
        OrderInput(external_id="W-1", channel="web", total=Decimal("120"),
                   lines=[LineInput(sku="SCARF", quantity=1, price=Decimal("120"))]),
    )  # fmt: skip

    # The marketer reloads the campaign, sees the run and opens its results.
    page.reload()
    row = page.locator(f"#campaign-runs tr[data-run='{run.pk}']")
    assert "4" in row.inner_text()
    shoot(page, "campaign-sent")
    row.locator("a", has_text="Results").click()
    page.wait_for_url(re.compile(rf"/admin/campaigns/campaign/runs/{run.pk}/results/"))
    assert CAMPAIGN in page.locator("#content h1").inner_text()
    assert_left_to_right(page)
    # The charts: one funnel per channel and the conversion against the hold-out.
    charts = page.locator(".crm-results .crm-bars[role=img]")
    assert charts.count() == 2
    funnel = {
        row.locator(".crm-bar-label").inner_text(): row.locator(".crm-bar-value").inner_text()
        for row in charts.nth(0).locator(".crm-bar-row").all()
    }
    assert (funnel["Messages"], funnel["Sent"], funnel["Converted"]) == ("3", "3", "1")
    sent_bar = charts.nth(0).locator(".crm-bar-row", has_text="Sent").locator(".crm-bar-fill")
    assert sent_bar.bounding_box()["width"] > 0
    uplift = charts.nth(1).locator(".crm-bar-row").first
    assert "33.3%" in uplift.inner_text()
    shoot(page, "results")
