"""A run's results: delivery and engagement per channel, conversions in the goal window, and the
uplift against the hold-out, computed by hand for a small run."""

import datetime as dt
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from campaigns import lifecycle, results, runs
from campaigns.models import Campaign, Recipient, Segment
from channels import links
from channels import services as outbox
from channels.models import Channel, Message, Template
from commerce.services import LineInput, OrderInput, place_order
from customers.consents import set_consent
from tests.customers.factories import CustomerFactory, IdentityFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent_run(settings):
    settings.DELIVERY_SEND_WINDOW = ""
    Channel.objects.create(
        name="Email", kind="email", backend="channels.backends.locmem.LocmemBackend"
    )
    Template.objects.create(key="sale", kind="email", locale="en", subject="Sale", text="Hi")
    for n in range(10):
        customer = CustomerFactory()
        IdentityFactory(customer=customer, kind="email", value=f"r{n}@example.org")
        set_consent(customer, channel="email", purpose="marketing", status="granted")
    segment = Segment.objects.create(name="All", rules={"all": []})
    campaign = Campaign.objects.create(
        name="Sale", segment=segment, channels=["email"], template_key="sale",
        holdout_percent=20, goal_window=dt.timedelta(days=5),
    )  # fmt: skip
    lifecycle.move(campaign, "schedule")
    run = runs.start(campaign)
    while runs.send_chunk(run.pk):
        pass
    outbox.deliver_many(list(Message.objects.values_list("pk", flat=True)))
    return run


def order(customer, number, total, at):
    place_order(
        customer,
        OrderInput(
            external_id=f"O-{number}",
            lines=[LineInput(sku="SKU", quantity=1, price=Decimal(total))],
            channel="web",
            total=Decimal(total),
            placed_at=at,
        ),
    )


def test_a_runs_figures_and_its_uplift_against_the_hold_out(sent_run, client):
    treated = list(
        Recipient.objects.filter(run=sent_run, status="handed").select_related(
            "customer", "message"
        )
    )
    held = list(
        Recipient.objects.filter(run=sent_run, status="held_out").select_related("customer")
    )
    assert (len(treated), len(held)) == (8, 2)
    soon = sent_run.started_at + dt.timedelta(days=1)
    order(treated[0].customer, 1, "100.00", soon)
    order(treated[1].customer, 2, "50.00", soon)
    order(treated[1].customer, 3, "25.00", soon + dt.timedelta(hours=1))  # same buyer again
    order(treated[2].customer, 4, "80.00", sent_run.started_at + dt.timedelta(days=6))  # too late
    order(held[0].customer, 5, "40.00", soon)
    now = timezone.now()
    Message.objects.filter(pk=treated[0].message_id).update(opened_at=now, clicked_at=now)
    Message.objects.filter(pk=treated[1].message_id).update(opened_at=now)
    path = urlsplit(links.unsubscribe_url(treated[3].message)).path
    assert client.post(path).status_code == 200

    figures = results.for_run(sent_run)

    assert (figures.audience, figures.treated, figures.held_out) == (10, 8, 2)
    (email,) = figures.channels
    assert (email.kind, email.messages, email.sent, email.opened, email.clicked) == (
        "email",
        8,
        8,
        2,
        1,
    )
    assert email.unsubscribed == 1
    assert (figures.converted, figures.revenue) == (2, Decimal("175.00"))
    assert (email.converted, email.revenue) == (2, Decimal("175.00"))
    assert (figures.holdout_converted, figures.holdout_revenue) == (1, Decimal("40.00"))
    assert figures.conversion_rate == pytest.approx(2 / 8)
    assert figures.holdout_rate == pytest.approx(1 / 2)
    assert figures.uplift_points == pytest.approx(-25.0)
    assert figures.incremental_conversions == pytest.approx(2 - 8 * 0.5)


def test_results_take_a_fixed_number_of_queries(sent_run, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        results.for_run(sent_run)


def test_the_results_page_shows_the_figures_and_their_bars(
    sent_run, client, django_assert_max_num_queries
):
    from django.urls import reverse

    from tests.customers.factories import StaffFactory

    held = Recipient.objects.filter(run=sent_run, status="held_out").first()
    order(held.customer, 9, "40.00", sent_run.started_at + dt.timedelta(hours=2))
    url = reverse("admin:campaigns_campaign_results", args=[sent_run.pk])
    client.force_login(StaffFactory(role="Support agent"))
    assert client.get(url).status_code == 403

    client.force_login(StaffFactory(role="Marketing"))
    with django_assert_max_num_queries(12):
        page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "crm-bar-fill" in text
    assert "50.0% (1 / 2)" in text  # the hold-out's conversion
    assert "0.0% (0 / 8)" in text
    assert "-50.0" in text  # uplift in points
    change = client.get(reverse("admin:campaigns_campaign_change", args=[sent_run.campaign_id]))
    assert url in change.content.decode()
