from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from commerce import services as commerce
from commerce import store
from commerce.models import Cart, CartLine, Order, OrderLine
from commerce.services import LineInput, OrderInput
from customers import services
from customers.consents import ConsentBook
from customers.models import Case, Consent, Identity, Interaction
from journeys.models import Enrollment, Journey
from tests.customers.factories import (
    ConsentFactory,
    CustomerFactory,
    IdentityFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db


def change_url(customer):
    return reverse("admin:customers_customer_change", args=[customer.pk])


def convert_url(customer):
    return reverse("admin:commerce_cart_convert_in_store", args=[customer.pk])


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def summary_of(response):
    return response.context["summary"]


def card(response, name):
    return next(c.context for c in summary_of(response)["cards"] if c.name == name)


def fill_cart(customer, *lines, channel="web", currency="USD"):
    cart = None
    for sku, quantity, price in lines:
        cart = commerce.add_to_cart(
            customer,
            LineInput(sku=sku, quantity=quantity, name=f"Product {sku}", price=price),
            channel=channel,
        )
    if currency:
        Cart.objects.filter(pk=cart.pk).update(currency=currency)
    return Cart.objects.get(pk=cart.pk)


def place(customer, external_id, total, *, channel="web", days_ago=0):
    order, _ = commerce.place_order(
        customer,
        OrderInput(
            external_id=external_id,
            lines=[LineInput(sku="SKU-1", quantity=1, price=Decimal(total))],
            channel=channel,
            currency="USD",
            placed_at=timezone.now() - timedelta(days=days_ago),
        ),
    )
    return order


def convert_form(response):
    form = card(response, "commerce.summary")["cart"]["convert"]["form"]
    return {name: form[name].value() for name in ("cart", "version")}


@pytest.fixture
def agent(client):
    user = StaffFactory(role="Support agent")
    client.force_login(user)
    return user


@pytest.fixture
def associate(client):
    user = StaffFactory(role="Support agent")
    user.groups.add(Group.objects.get(name=store.STORE_ASSOCIATE))
    client.force_login(user)
    return user


# --- What each block shows ----------------------------------------------------------------------


def test_lifetime_value_shows_spent_order_count_and_average(client, agent):
    customer = CustomerFactory()
    place(customer, "W-1", "30.00", days_ago=10)
    place(customer, "W-2", "45.50", days_ago=1)

    response = client.get(change_url(customer))

    value = summary_of(response)["value"]
    assert (value["total_spent"], value["order_count"]) == (Decimal("75.50"), 2)
    assert value["average_order"] == Decimal("37.75")
    html = response.content.decode()
    assert 'data-figure="total-spent"><bdi>75.50' in html
    assert 'data-figure="order-count">2<' in html


def test_a_customer_without_orders_has_no_average(client, agent):
    response = client.get(change_url(CustomerFactory()))

    assert summary_of(response)["value"]["average_order"] is None
    assert "No orders yet." in response.content.decode()


def test_last_order_is_the_newest_with_its_channel_total_and_link(client, agent):
    customer = CustomerFactory()
    place(customer, "W-1", "30.00", days_ago=3)
    newest = place(customer, "S-9", "12.00", channel="store", days_ago=1)
    place(CustomerFactory(), "OTHER", "99.00")

    response = client.get(change_url(customer))

    last = card(response, "commerce.summary")["last_order"]
    assert last["order"] == newest
    assert last["channel"]["value"] == "store"
    assert last["url"] == reverse("admin:commerce_order_change", args=[newest.pk])
    assert last["url"] in response.content.decode()


def test_live_cart_shows_its_lines_value_channels_and_last_change(client, agent):
    customer = CustomerFactory()
    fill_cart(customer, ("A", 2, Decimal("10.00")), ("B", 1, None))
    cart = fill_cart(customer, ("C", 1, Decimal("5.25")), channel="app")

    response = client.get(change_url(customer))

    live = card(response, "commerce.summary")["cart"]
    assert live["cart"] == cart
    assert [line.sku for line in live["lines"]] == ["A", "B", "C"]
    assert (live["line_count"], live["total"]) == (3, Decimal("25.25"))
    assert [c["value"] for c in live["channels"]] == ["web", "app"]
    assert live["convert"] is None  # a support agent is not a store associate
    html = response.content.decode()
    assert "25.25" in html
    assert "Convert in store" not in html


def test_a_big_cart_lists_the_first_lines_and_sums_them_all(client, agent):
    customer = CustomerFactory()
    lines = [(f"S{n:02}", 1, Decimal("2.00")) for n in range(10)]
    fill_cart(customer, *lines)

    live = card(client.get(change_url(customer)), "commerce.summary")["cart"]

    assert len(live["lines"]) == 6
    assert (live["line_count"], live["more_lines"], live["total"]) == (10, 4, Decimal("20.00"))


def test_no_cart_and_an_emptied_cart_show_as_empty(client, agent):
    customer = CustomerFactory()
    assert card(client.get(change_url(customer)), "commerce.summary")["cart"] is None

    fill_cart(customer, ("A", 1, Decimal("1.00")))
    commerce.remove_from_cart(customer, LineInput(sku="A", quantity=1))

    response = client.get(change_url(customer))
    assert card(response, "commerce.summary")["cart"] is None
    assert "The cart is empty." in response.content.decode()


def test_open_cases_list_unresolved_ones_most_urgent_first_with_overdue(client, agent, settings):
    settings.CASE_FIRST_RESPONSE_SLA_HOURS = 4
    customer = CustomerFactory()
    now = timezone.now()
    late = Case.objects.create(
        customer=customer, subject="No answer yet", opened_at=now - timedelta(hours=5)
    )
    urgent = Case.objects.create(
        customer=customer, subject="Card charged twice", priority=Case.Priority.URGENT
    )
    answered = Case.objects.create(
        customer=customer,
        subject="Waiting for photos",
        status=Case.Status.WAITING,
        opened_at=now - timedelta(hours=9),
        first_response_at=now - timedelta(hours=8),
    )
    Case.objects.create(customer=customer, subject="Old", status=Case.Status.RESOLVED)
    Case.objects.create(customer=CustomerFactory(), subject="Someone else's")

    response = client.get(change_url(customer))

    cases = summary_of(response)["cases"]
    assert cases["count"] == 3
    assert [(row["case"], row["overdue"]) for row in cases["rows"]] == [
        (urgent, False),
        (answered, False),
        (late, True),
    ]
    assert cases["rows"][0]["url"] == reverse("admin:customers_case_change", args=[urgent.pk])
    html = response.content.decode()
    assert "Card charged twice" in html
    assert "Overdue" in html
    assert "Old" not in [row["case"].subject for row in cases["rows"]]


def test_more_open_cases_than_the_card_holds_are_counted_and_linked(client, agent):
    customer = CustomerFactory()
    Case.objects.bulk_create([Case(customer=customer, subject=f"Case {n}") for n in range(8)])

    cases = summary_of(client.get(change_url(customer)))["cases"]

    assert (len(cases["rows"]), cases["count"], cases["more"]) == (5, 8, True)
    assert f"customer__id__exact={customer.pk}" in cases["list_url"]


def test_active_journeys_show_name_and_next_step_time_not_finished_ones(client, agent):
    customer = CustomerFactory()
    soon = timezone.now() + timedelta(hours=2)
    browse = Journey.objects.get(key="browse_abandonment")
    cart = Journey.objects.get(key="abandoned_cart")
    first = Enrollment.objects.create(
        journey=browse, customer=customer, context_key="p1", next_run_at=soon
    )
    later = Enrollment.objects.create(
        journey=cart, customer=customer, step=1, next_run_at=soon + timedelta(days=1)
    )
    Enrollment.objects.create(
        journey=browse, customer=customer, context_key="p0", status=Enrollment.Status.COMPLETED
    )

    response = client.get(change_url(customer))

    journeys = card(response, "journeys.summary")
    assert journeys["count"] == 2
    assert [(r["enrollment"], r["next_step"]) for r in journeys["rows"]] == [
        (first, 1),
        (later, 2),
    ]
    assert browse.name in response.content.decode()


def badge(response, channel):
    return next(b for b in summary_of(response)["consent_badges"] if b.channel["value"] == channel)


@pytest.mark.parametrize(
    ("consents", "bounced", "state"),
    [
        ([("address", "granted")], False, "granted"),
        ([("all", "granted")], False, "granted"),
        ([("address", "granted"), ("all", "withdrawn")], False, "withdrawn"),
        ([("all", "granted"), ("address", "withdrawn")], False, "withdrawn"),
        ([("address", "pending")], False, "pending"),
        ([("address", "granted")], True, "bounced"),
        ([], False, "none"),
        ([("address", "granted"), ("transactional", "granted")], False, "granted"),
    ],
)
def test_consent_badge_says_granted_exactly_when_delivery_would_send(
    client, agent, consents, bounced, state
):
    customer = CustomerFactory()
    email = IdentityFactory(
        customer=customer,
        kind="email",
        value="sara@example.com",
        bounced_at=timezone.now() if bounced else None,
    )
    for scope, status in consents:
        ConsentFactory(
            customer=customer,
            identity=None if scope == "all" else email,
            purpose="transactional" if scope == "transactional" else "marketing",
            status=status,
        )

    response = client.get(change_url(customer))

    shown = badge(response, "email")
    assert shown.state == state
    delivery_says = ConsentBook([customer.pk]).why_not(email, Consent.Purpose.MARKETING)
    assert (shown.state == "granted") == (delivery_says is None)
    assert f'data-channel="email" data-state="{state}"' in response.content.decode()


def test_any_reachable_address_makes_the_channel_granted(client, agent):
    customer = CustomerFactory()
    old = IdentityFactory(customer=customer, kind="phone", value="+989120000001")
    new = IdentityFactory(customer=customer, kind="phone", value="+989120000002")
    ConsentFactory(customer=customer, identity=old, status="withdrawn")
    ConsentFactory(customer=customer, identity=new, status="granted")

    response = client.get(change_url(customer))

    assert (badge(response, "sms").state, badge(response, "sms").address) == ("granted", new.value)
    assert badge(response, "whatsapp").state == "granted"
    assert badge(response, "telegram").state == "no_address"


# --- Convert in store ---------------------------------------------------------------------------


def test_store_associate_converts_the_live_cart_into_one_store_order(client, associate):
    customer = CustomerFactory()
    cart = fill_cart(customer, ("A", 2, Decimal("10.00")), ("B", 1, Decimal("4.50")))
    page = client.get(change_url(customer))
    assert "Convert in store" in page.content.decode()

    response = client.post(convert_url(customer), convert_form(page))

    assert response.status_code == 302
    assert response.url == change_url(customer)
    order = Order.objects.get(customer=customer)
    assert (order.channel, order.total, order.currency) == ("store", Decimal("24.50"), "USD")
    assert order.external_id == store.order_id_for(cart.pk)
    assert sorted(OrderLine.objects.filter(order=order).values_list("sku", "quantity")) == [
        ("A", 2),
        ("B", 1),
    ]
    cart.refresh_from_db()
    assert (cart.status, cart.order) == (Cart.Status.CONVERTED, order)
    event = Interaction.objects.get(customer=customer, type=Interaction.Type.ORDER)
    assert (event.channel, event.name, event.agent) == ("store", "Order Completed", associate)
    assert event.properties["crm_order_id"] == order.pk
    customer.refresh_from_db()
    assert (customer.order_count, customer.total_spent) == (1, Decimal("24.50"))
    assert any("placed in store" in text for text in messages_of(client.get(response.url)))


def test_a_double_submit_creates_one_order(client, associate):
    customer = CustomerFactory()
    fill_cart(customer, ("A", 1, Decimal("3.00")))
    form = convert_form(client.get(change_url(customer)))

    client.post(convert_url(customer), form)
    again = client.post(convert_url(customer), form, follow=True)

    assert Order.objects.filter(customer=customer).count() == 1
    assert Interaction.objects.filter(customer=customer, type="order").count() == 1
    assert any("already ordered in store" in text for text in messages_of(again))


def test_converting_a_cart_that_changed_since_the_page_was_opened_is_refused(client, associate):
    customer = CustomerFactory()
    fill_cart(customer, ("A", 1, Decimal("3.00")))
    form = convert_form(client.get(change_url(customer)))
    fill_cart(customer, ("B", 1, Decimal("8.00")), channel="app")  # bought online meanwhile

    response = client.post(convert_url(customer), form, follow=True)

    assert not Order.objects.exists()
    assert any("cart changed" in text for text in messages_of(response))


def test_an_empty_cart_or_another_customers_cart_is_refused_with_a_message(client, associate):
    customer = CustomerFactory()
    cart = fill_cart(customer, ("A", 1, Decimal("3.00")))
    form = convert_form(client.get(change_url(customer)))
    CartLine.objects.filter(cart=cart).delete()

    empty = client.post(convert_url(customer), form, follow=True)
    other = client.post(convert_url(CustomerFactory()), form, follow=True)
    broken = client.post(convert_url(customer), {"cart": "x"}, follow=True)

    assert not Order.objects.exists()
    assert any("cart is empty" in text for text in messages_of(empty))
    assert any("no such cart" in text for text in messages_of(other))
    assert any("form was incomplete" in text for text in messages_of(broken))


def test_without_the_store_associate_role_converting_is_forbidden(client, agent):
    customer = CustomerFactory()
    cart = fill_cart(customer, ("A", 1, Decimal("3.00")))

    response = client.post(convert_url(customer), {"cart": cart.pk, "version": "x"})

    assert response.status_code == 403
    assert not Order.objects.exists()


def test_converting_answers_only_posts(client, associate):
    assert client.get(convert_url(CustomerFactory())).status_code == 405
    assert (
        client.post(reverse("admin:commerce_cart_convert_in_store", args=[99999])).status_code
        == 404
    )


def test_a_merged_profile_has_no_summary_and_cannot_convert(client, associate):
    survivor, other = CustomerFactory(), CustomerFactory()
    cart = fill_cart(other, ("A", 1, Decimal("3.00")))
    version = store.CartVersion.of(cart, 1, Decimal("3.00")).encode()
    services.merge(survivor=survivor, duplicate=other, by=associate)

    tombstone = client.get(change_url(other))
    refused = client.post(convert_url(other), {"cart": cart.pk, "version": version}, follow=True)

    assert tombstone.context["summary"] is None
    assert 'id="customer-summary"' not in tombstone.content.decode()
    assert not Order.objects.exists()
    assert any("was merged" in text for text in messages_of(refused))
    # The cart moved to the survivor, whose page converts it.
    live = card(client.get(change_url(survivor)), "commerce.summary")["cart"]
    assert live["cart"].customer_id == survivor.pk
    assert live["convert"] is not None


# --- Query bound --------------------------------------------------------------------------------


def big_history(customer, n):
    now = timezone.now()
    Order.objects.bulk_create(
        [
            Order(
                customer=customer,
                external_id=f"{customer.pk}-{i}",
                channel="web",
                total=Decimal(i),
                placed_at=now - timedelta(hours=i),
            )
            for i in range(n)
        ]
    )
    Cart.objects.bulk_create(
        [Cart(customer=customer, status=Cart.Status.CONVERTED) for _ in range(n)]
    )
    for i in range(12):
        commerce.add_to_cart(
            customer, LineInput(sku=f"L{i}", quantity=1, price=Decimal(1)), channel="web"
        )
    Case.objects.bulk_create([Case(customer=customer, subject=f"c{i}") for i in range(n)])
    journey = Journey.objects.get(key="browse_abandonment")
    Enrollment.objects.bulk_create(
        [
            Enrollment(journey=journey, customer=customer, context_key=f"p{i}", next_run_at=now)
            for i in range(n)
        ]
    )
    Interaction.objects.bulk_create(
        [
            Interaction(
                customer=customer,
                channel="web",
                type="track",
                name="Product Viewed",
                occurred_at=now - timedelta(minutes=i),
                received_at=now,
            )
            for i in range(n * 10)
        ]
    )
    for kind, value in (
        ("email", f"c{customer.pk}@example.com"),
        ("phone", f"+98912111{customer.pk:04}"),
    ):
        identity = Identity.objects.create(customer=customer, kind=kind, value=value)
        ConsentFactory(customer=customer, identity=identity)


def test_the_page_costs_the_same_queries_whatever_the_history(
    client, associate, django_assert_max_num_queries
):
    # Past every card's cap already (cart lines, cases, journeys), so every branch runs.
    small = CustomerFactory()
    big_history(small, 8)
    big = CustomerFactory()
    big_history(big, 80)
    client.get(change_url(CustomerFactory()))  # warm the content-type and permission caches

    with django_assert_max_num_queries(40) as baseline:
        client.get(change_url(small))
    with django_assert_max_num_queries(len(baseline)):
        response = client.get(change_url(big))

    assert summary_of(response)["cases"]["count"] == 80
    assert card(response, "journeys.summary")["count"] == 80
    assert card(response, "commerce.summary")["cart"]["line_count"] == 12
