"""An administrator reads the insights dashboard in a real browser: opens it from the admin
index, sees its charts, narrows the period with the date filter (and sees a wrong period
refused on the form), then reads the same page in Persian, right to left."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation

from customers.models import ChannelKind
from customers.roles import ADMINISTRATOR
from tests.customers.factories import CustomerFactory, InteractionFactory, StaffFactory
from tests.e2e.conftest import assert_left_to_right, assert_right_to_left, log_in


def dashboard_url() -> str:
    try:
        return reverse("admin:insights_dashboard")
    except NoReverseMatch:
        pytest.skip("insights dashboard not present (admin:insights_dashboard does not resolve)")


@pytest.fixture
def history():
    """Web and app visits this month; store visits two months ago."""
    now = timezone.now()
    for n in range(3):
        customer = CustomerFactory()
        InteractionFactory(customer=customer, channel="web", occurred_at=now - timedelta(days=n))
        InteractionFactory(customer=customer, channel="app", occurred_at=now - timedelta(days=n))
        InteractionFactory(
            customer=customer, channel="store", occurred_at=now - timedelta(days=60 + n)
        )


def chart_labels(page, figure: str) -> set[str]:
    return set(page.locator(f"#figure-{figure} svg .crm-chart-label").all_text_contents())


def test_an_administrator_reads_the_dashboard_and_narrows_its_period(history, open_page, shoot):
    url = dashboard_url()
    admin = StaffFactory(username="ava", role=ADMINISTRATOR)
    page = open_page(locale="en-US", time_zone="UTC")
    log_in(page, admin)

    # From the admin index, as a person finds it.
    page.click(f"#content-main a[href='{url}']")
    page.wait_for_url(re.compile(re.escape(url) + "$"))
    assert_left_to_right(page)
    assert "Insights" in page.title()
    assert "Insights" in page.locator("#content h1").inner_text()
    charts = page.locator("svg.crm-insights-chart")
    assert charts.count() >= 1
    assert charts.first.is_visible()
    assert charts.first.bounding_box()["width"] > 0
    # The last 30 days by default: the web and the app, not the store two months ago.
    with translation.override("en"):  # the page's language, whatever an earlier test left
        web, app, store = (str(ChannelKind(kind).label) for kind in ("web", "app", "store"))
    assert {web, app} <= chart_labels(page, "interactions")
    assert store not in chart_labels(page, "interactions")
    shoot(page, "dashboard-last-30-days")

    # Narrows the period to two months ago: now only the store shows.
    today = timezone.localdate()
    start, end = today - timedelta(days=70), today - timedelta(days=50)
    page.fill("#id_start", start.isoformat())
    page.fill("#id_end", end.isoformat())
    page.click(".crm-insights-filter button[type=submit]")
    page.wait_for_url(re.compile(rf"start={start.isoformat()}"))
    assert page.input_value("#id_start") == start.isoformat()
    assert page.input_value("#id_end") == end.isoformat()
    assert chart_labels(page, "interactions") == {store}
    shoot(page, "dashboard-two-months-ago")

    # A period that ends before it starts is refused on the form, not with an error page.
    page.fill("#id_start", today.isoformat())
    page.fill("#id_end", (today - timedelta(days=1)).isoformat())
    page.click(".crm-insights-filter button[type=submit]")
    page.wait_for_load_state()
    assert page.locator(".crm-insights-filter .errornote").is_visible()
    shoot(page, "dashboard-period-refused")

    # The same dashboard in Persian reads right to left.
    page.goto(url)
    page.select_option("#crm-language-select", "fa")
    page.click(".crm-language button[type=submit]")
    page.wait_for_function("document.documentElement.lang === 'fa'")
    assert_right_to_left(page)
    with translation.override("fa"):
        assert str(ChannelKind("web").label) in chart_labels(page, "interactions")
    shoot(page, "dashboard-in-persian")
