"""Each KPI against a small population whose figure is worked out by hand in the test."""

import datetime as dt
from decimal import Decimal

import pytest

from channels.models import Message
from commerce.models import Cart
from customers.models import Customer, Interaction
from insights import selectors
from journeys.models import Enrollment, Journey
from tests.channels.factories import ChannelFactory, MessageFactory
from tests.customers.factories import CustomerFactory
from tests.insights.fixtures import END, MID, START, cart, case, order, touch

pytestmark = pytest.mark.django_db
MIN = dt.timedelta(minutes=1)
DAY = dt.timedelta(days=1)


def test_conversion_counts_carts_started_in_the_period_by_their_first_lines_channel():
    cart(created=MID, lines=[("web", 0), ("app", 5)], status=Cart.Status.CONVERTED,
         order_total="100.00", order_channel="store")  # fmt: skip
    cart(created=MID, lines=[("app", 0)])
    cart(created=MID, lines=[("app", 3), ("web", 1)])  # the web line came first
    cart(created=MID, lines=[("web", 0)], status=Cart.Status.MERGED)  # lives on elsewhere
    cart(created=START - DAY, lines=[("web", 0)], status=Cart.Status.CONVERTED, order_total="5")
    cart(created=END, lines=[("web", 0)])  # the end is exclusive
    cart(created=START, lines=[])  # emptied: no channel left

    figures = selectors.conversion(START, END)

    assert [(c.channel, c.carts, c.converted, c.revenue) for c in figures.channels] == [
        ("", 1, 0, Decimal("0")),
        ("app", 1, 0, Decimal("0")),
        ("web", 2, 1, Decimal("100.00")),
    ]
    assert (figures.carts, figures.converted, figures.revenue) == (4, 1, Decimal("100.00"))
    assert figures.rate == pytest.approx(1 / 4)
    web = selectors.conversion(START, END, "web")
    assert (web.carts, web.converted, web.rate) == (2, 1, 0.5)
    assert web.rows()[1] == ["web", 2, 1, "0.5000", Decimal("100.00")]


def test_conversion_of_an_empty_period_has_no_rate():
    figures = selectors.conversion(START, END)
    assert (figures.carts, figures.rate, figures.channels) == (0, None, [])


@pytest.fixture
def reminded():
    """Cart-journey enrollments: two reminded in the period (one recovered for 80.00), one
    never reminded, one recovered before the period, and a browse reminder that converted."""
    cart_journey = Journey.objects.get(key="abandoned_cart")
    browse = Journey.objects.get(key="browse_abandonment")

    def enroll(journey, *, entered, sent, converted=False, revenue=None):
        return Enrollment.objects.create(
            journey=journey, customer=CustomerFactory(), context_key=f"cart:{entered}",
            entered_at=entered, messages_sent=sent, status=Enrollment.Status.COMPLETED,
            converted_at=entered + DAY if converted else None,
            revenue=None if revenue is None else Decimal(revenue),
        )  # fmt: skip

    recovered = enroll(cart_journey, entered=MID, sent=2, converted=True, revenue="80.00")
    lost = enroll(cart_journey, entered=MID, sent=1)
    enroll(cart_journey, entered=MID, sent=0)
    enroll(cart_journey, entered=START - DAY, sent=1, converted=True, revenue="30.00")
    enroll(browse, entered=MID, sent=1, converted=True, revenue="40.00")
    sms = ChannelFactory(kind="sms")
    email = ChannelFactory(kind="email")
    for enrollment, channel in ((recovered, sms), (recovered, email), (lost, email)):
        MessageFactory(
            customer=enrollment.customer, channel=channel,
            idempotency_key=f"journey:{enrollment.pk}:{Message.objects.count()}",
        )  # fmt: skip
    return recovered, lost


def test_recovery_uses_the_journeys_attribution_of_reminded_carts(reminded):
    figures = selectors.recovery(START, END)
    assert (figures.reminded, figures.recovered, figures.revenue) == (2, 1, Decimal("80.00"))
    assert figures.rate == 0.5


def test_recovery_on_a_channel_counts_carts_reminded_on_it(reminded):
    sms = selectors.recovery(START, END, "sms")
    assert (sms.reminded, sms.recovered, sms.revenue) == (1, 1, Decimal("80.00"))
    email = selectors.recovery(START, END, "email")
    assert (email.reminded, email.recovered) == (2, 1)
    assert selectors.recovery(START, END, "whatsapp").rate is None


def test_response_times_interpolate_like_percentile_cont():
    for minutes, channel in ((10, "sms"), (40, "email"), (20, "email"), (30, "sms")):
        case(opened=MID, wait=minutes * MIN, channel=channel)
    case(opened=MID)  # not answered yet
    case(opened=START - DAY, wait=1000 * MIN)  # opened before the period

    figures = selectors.response_times(START, END)

    # Sorted 10, 20, 30, 40: median at position 1.5 → 25; p90 at 2.7 → 30 + 0.7 × 10 = 37.
    assert (figures.opened, figures.answered, figures.waiting) == (5, 4, 1)
    assert figures.median == 25 * MIN
    assert figures.p90 == 37 * MIN
    sms = selectors.response_times(START, END, "sms")
    # 10, 30: median 20; p90 at position 0.9 → 10 + 0.9 × 20 = 28.
    assert (sms.median, sms.p90) == (20 * MIN, 28 * MIN)
    assert selectors.response_times(START, END).rows()[1] == [5, 4, 1, "1500", "2220"]


@pytest.mark.parametrize(
    ("waits", "median", "p90"),
    [([], None, None), ([7], 7, 7), ([5, 1, 3], 3, 4.6)],
)
def test_response_time_percentiles_of_few_cases(waits, median, p90):
    for minutes in waits:
        case(opened=MID, wait=minutes * MIN)
    figures = selectors.response_times(START, END)
    assert figures.median == (None if median is None else median * MIN)
    assert figures.p90 == (None if p90 is None else p90 * MIN)


def test_repeat_purchase_counts_buyers_who_had_bought_before_their_last_order():
    before, twice, once, later, gone = CustomerFactory.create_batch(5)
    order(before, at=START - 30 * DAY, channel="store")
    order(before, at=MID, channel="web")
    order(twice, at=MID, channel="app")
    order(twice, at=MID + DAY, channel="web")
    order(once, at=MID, channel="web")
    order(later, at=MID, channel="app")
    order(later, at=END + DAY, channel="app")  # after the period: not "before"
    order(gone, at=START - DAY)  # bought before, not in the period

    figures = selectors.repeat_purchase(START, END)

    assert (figures.buyers, figures.returning, figures.rate) == (4, 2, 0.5)
    web = selectors.repeat_purchase(START, END, "web")
    # before (store earlier), twice (app before the web order) return; once does not.
    assert (web.buyers, web.returning) == (3, 2)
    app = selectors.repeat_purchase(START, END, "app")
    assert (app.buyers, app.returning) == (2, 0)


def test_satisfaction_averages_the_answers_given_in_the_period():
    for score, channel in ((5, "email"), (5, "sms"), (4, "email"), (2, "email"), (1, "sms")):
        case(opened=START - DAY, csat=score, answered=MID, channel=channel)
    case(opened=MID, csat=1, answered=END)  # answered after the period
    case(opened=MID)  # never answered

    figures = selectors.satisfaction(START, END)

    assert figures.answers == 5
    assert figures.average == pytest.approx(17 / 5)
    assert figures.distribution == {1: 1, 2: 1, 3: 0, 4: 1, 5: 2}
    assert figures.satisfied_share == pytest.approx(3 / 5)
    sms = selectors.satisfaction(START, END, "sms")
    assert (sms.answers, sms.average, sms.distribution[1]) == (2, 3.0, 1)
    assert figures.rows()[1:] == [[1, 1], [2, 1], [3, 0], [4, 1], [5, 2]]


def test_satisfaction_without_answers():
    figures = selectors.satisfaction(START, END)
    assert (figures.answers, figures.average, figures.satisfied_share) == (0, None, None)


def test_lifetime_value_per_buyer_and_per_stage():
    stage = Customer.Stage
    CustomerFactory.create_batch(2, stage=stage.AWARENESS)
    CustomerFactory(stage=stage.PURCHASE, order_count=1, total_spent=Decimal("100.00"))
    CustomerFactory(stage=stage.PURCHASE, order_count=1, total_spent=Decimal("50.00"))
    survivor = CustomerFactory(stage=stage.RETENTION, order_count=3, total_spent=Decimal("300"))
    CustomerFactory(stage=stage.RETENTION, order_count=9, total_spent=Decimal("1000"),
                    merged_into=survivor)  # a merged tombstone  # fmt: skip

    figures = selectors.lifetime_value()

    assert (figures.buyers, figures.revenue, figures.average) == (3, Decimal("450"), Decimal("150"))
    by_stage = {s.stage: (s.customers, s.buyers, s.average) for s in figures.stages}
    assert by_stage == {
        "awareness": (2, 0, Decimal("0")),
        "consideration": (0, 0, None),
        "purchase": (2, 2, Decimal("75")),
        "retention": (1, 1, Decimal("300")),
        "advocacy": (0, 0, None),
    }


def test_interaction_mix_counts_touchpoints_by_channel_and_direction():
    someone = CustomerFactory()
    for _ in range(3):
        touch(someone, at=MID, channel="web")
    touch(someone, at=MID, channel="web", direction=Interaction.Direction.OUTBOUND)
    touch(someone, at=START, channel="email", direction=Interaction.Direction.OUTBOUND)
    touch(someone, at=MID, channel="email", direction=Interaction.Direction.OUTBOUND)
    touch(someone, at=MID, channel="phone", direction=Interaction.Direction.INTERNAL, type="note")
    touch(someone, at=END, channel="app")

    figures = selectors.interaction_mix(START, END)

    assert [(c.channel, c.inbound, c.outbound) for c in figures.channels] == [
        ("email", 0, 2),
        ("web", 3, 1),
    ]
    assert figures.total == 6
    assert [c.channel for c in selectors.interaction_mix(START, END, "web").channels] == ["web"]


def test_order_mix_counts_orders_and_revenue_by_channel():
    buyer = CustomerFactory()
    order(buyer, at=MID, channel="web", total="100.00")
    order(buyer, at=START, channel="web", total="50.00")
    order(buyer, at=MID, channel="store", total="30.00")
    order(buyer, at=END, channel="web", total="999.00")

    figures = selectors.order_mix(START, END)

    assert [(c.channel, c.orders, c.revenue) for c in figures.channels] == [
        ("store", 1, Decimal("30.00")),
        ("web", 2, Decimal("150.00")),
    ]
    assert (figures.orders, figures.revenue) == (3, Decimal("180.00"))
    assert selectors.order_mix(START, END, "store").orders == 1


def test_cross_channel_orders_had_an_inbound_touch_on_another_channel_in_the_7_days_before():
    app_then_web, store_only, too_early, at_the_edge = CustomerFactory.create_batch(4)
    touch(app_then_web, at=MID - 2 * DAY, channel="app")
    order(app_then_web, at=MID, channel="web")
    touch(store_only, at=MID - DAY, channel="store")
    touch(store_only, at=MID - DAY, channel="email", direction=Interaction.Direction.OUTBOUND)
    order(store_only, at=MID, channel="store")  # our email is not the customer's touch
    touch(too_early, at=MID - 8 * DAY, channel="app")
    order(too_early, at=MID, channel="web")
    touch(at_the_edge, at=MID - 7 * DAY, channel="web")
    order(at_the_edge, at=MID, channel="app")

    figures = selectors.cross_channel(START, END)

    assert (figures.orders, figures.cross_channel, figures.share) == (4, 2, 0.5)
    assert figures.by_channel == {"app": (1, 1), "store": (1, 0), "web": (2, 1)}
    web = selectors.cross_channel(START, END, "web")
    assert (web.orders, web.cross_channel) == (2, 1)


@pytest.mark.parametrize(
    "name",
    ["conversion", "recovery", "response_times", "repeat_purchase", "satisfaction",
     "interaction_mix", "order_mix", "cross_channel"],
)  # fmt: skip
def test_each_selector_is_one_query_or_a_few(name, django_assert_max_num_queries):
    someone = CustomerFactory()
    order(someone, at=MID)
    case(opened=MID, wait=MIN, csat=4, answered=MID)
    with django_assert_max_num_queries(3):
        getattr(selectors, name)(START, END, "web")
