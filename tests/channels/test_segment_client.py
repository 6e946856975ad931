"""The official Segment client, pointed at a live server, lands everything on one customer."""

import pytest
from segment.analytics.client import Client

from commerce.models import Cart, Order
from customers import apikeys
from customers.models import Customer, Interaction
from tests.customers.factories import SourceFactory


@pytest.fixture(autouse=True)
def close_segment_connections():
    """The SDK keeps one module-wide keep-alive session; close it so the live server's request
    threads end with the test instead of at interpreter exit."""
    yield
    from segment.analytics import request

    request._session.close()


def segment_client(live_server, key):
    errors = []
    client = Client(
        write_key=key,
        host=f"{live_server.url}/ingest",
        sync_mode=True,
        gzip=True,
        max_retries=0,
        on_error=lambda error, items: errors.append(error),
    )
    return client, errors


@pytest.mark.django_db(transaction=True)
def test_web_browsing_then_app_login_then_cart_and_order_are_one_customer(live_server):
    _, web_key = apikeys.create_key(SourceFactory(name="web", kind="web"))
    _, app_key = apikeys.create_key(SourceFactory(name="app", kind="app"))
    web, web_errors = segment_client(live_server, web_key)
    app, app_errors = segment_client(live_server, app_key)

    web.page(anonymous_id="browser-1", name="Home", properties={"title": "Welcome"})
    web.track(
        anonymous_id="browser-1",
        event="Product Viewed",
        properties={"sku": "TEA-1", "name": "Green tea", "price": 4.5},
    )
    app.identify(
        user_id="user-42",
        anonymous_id="browser-1",
        traits={"email": "leila@example.ir", "firstName": "لیلا"},
    )
    app.track(
        user_id="user-42",
        event="Product Added",
        properties={"sku": "TEA-1", "quantity": 2, "price": 4.5},
    )
    web.track(user_id="user-42", event="Cart Viewed")
    app.alias(previous_id="app-install-7", user_id="user-42")

    customer = Customer.objects.live().get()
    cart = Cart.objects.get(customer=customer, status="active")
    assert [(line.sku, line.quantity, line.channel) for line in cart.lines.all()] == [
        ("TEA-1", 2, "app")
    ]
    added = Interaction.objects.get(name="Product Added")
    viewed = Interaction.objects.get(name="Cart Viewed")
    assert (added.channel, viewed.channel) == ("app", "web")
    assert added.properties["crm_cart_id"] == viewed.properties["crm_cart_id"] == cart.pk

    web.track(
        user_id="user-42",
        event="Order Completed",
        properties={
            "order_id": "W-100",
            "total": 9,
            "currency": "EUR",
            "products": [{"sku": "TEA-1", "quantity": 2, "price": 4.5}],
        },
    )
    cart.refresh_from_db()
    order = Order.objects.get(external_id="W-100")
    customer.refresh_from_db()
    assert (cart.status, cart.order_id) == ("converted", order.pk)
    assert (customer.order_count, str(customer.total_spent)) == (1, "9.00")
    assert set(customer.identities.values_list("kind", "value")) >= {
        ("user_id", "user-42"),
        ("anonymous_id", "browser-1"),
        ("anonymous_id", "app-install-7"),
        ("email", "leila@example.ir"),
    }
    assert Interaction.objects.exclude(customer=customer).count() == 0
    assert web_errors == app_errors == []
