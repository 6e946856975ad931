"""Journey stories, told through the real tracking and REST APIs with time travel.

The beat is played by hand: ``tick(at)`` runs what the periodic tasks run at that moment (the
journey sweep, the back-in-stock sweep, the outbox sweep) and delivers what they queued.
"""

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from channels import services as outbox
from channels.backends import locmem
from channels.models import Channel, Message
from commerce.models import StockAlert
from customers import apikeys
from customers.consents import set_consent
from customers.models import Customer, Identity
from journeys import engine, stock
from journeys.models import Enrollment
from tests.customers.factories import IdentityFactory, SourceFactory

TEHRAN = ZoneInfo("Asia/Tehran")
# A Tuesday, 10:00 in Tehran: the reminders of these stories fall inside the send window.
T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=TEHRAN)


@pytest.fixture(autouse=True)
def _world(db):
    locmem.reset()
    for kind in ("email", "sms", "push"):
        Channel.objects.create(
            name=kind, kind=kind, backend="channels.backends.locmem.LocmemBackend"
        )
    yield
    locmem.reset()


def source_client(kind):
    source = SourceFactory(name=f"{kind} source", kind=kind)
    _, key = apikeys.create_key(source)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def call(client, path, body, method="post"):
    response = getattr(client, method)(path, json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 201), response.content
    return response


def tick(at):
    """One beat at ``at``: journeys, back in stock, the outbox; then deliver what is due."""
    with time_machine.travel(at, tick=False):
        engine.advance_for(seconds=5)
        stock.notify_restocks()
        outbox.dispatch_due()
        queued = list(Message.objects.filter(status="queued").values_list("pk", flat=True))
        outbox.deliver_many(queued)


def shopper(app):
    """A customer known by account, email and phone, consenting to marketing on both."""
    call(
        app,
        "/ingest/v1/identify",
        {
            "userId": "u-1",
            "anonymousId": "device-1",
            "traits": {"email": "sara@example.org", "phone": "09121234567", "firstName": "Sara"},
            "context": {"locale": "fa-IR", "timezone": "Asia/Tehran"},
        },
    )
    customer = Customer.objects.get(identities__kind="user_id", identities__value="u-1")
    customer.time_zone, customer.locale = "Asia/Tehran", "fa"
    customer.save(update_fields=["time_zone", "locale"])
    for channel in ("email", "sms"):
        set_consent(customer, channel=channel, purpose="marketing", status="granted")
    return customer


def add_to_cart(app, sku="SKU-1"):
    call(
        app,
        "/ingest/v1/track",
        {
            "userId": "u-1",
            "event": "Product Added",
            "properties": {"sku": sku, "name": "Blue scarf", "price": 120000, "quantity": 1},
        },
    )


def sent():
    return [(m.kind, m.to) for m in locmem.outbox]


# --- Abandoned cart ---------------------------------------------------------------------------


def test_an_app_cart_gets_an_email_at_one_hour_and_an_sms_at_a_day():
    app = source_client("app")
    with time_machine.travel(T0, tick=False):
        customer = shopper(app)
        add_to_cart(app)

    tick(T0 + dt.timedelta(minutes=59))
    assert sent() == []
    tick(T0 + dt.timedelta(hours=1, minutes=1))
    assert sent() == [("email", "sara@example.org")]
    email = Message.objects.get(kind="email")
    assert "Blue scarf" in email.text  # the cart's lines, in Persian
    assert "سبد" in email.subject

    tick(T0 + dt.timedelta(hours=12))
    assert len(sent()) == 1
    tick(T0 + dt.timedelta(hours=24, minutes=1))
    assert sent() == [("email", "sara@example.org"), ("sms", "+989121234567")]
    assert "COMEBACK10" in Message.objects.get(kind="sms").text
    enrollment = Enrollment.objects.get(customer=customer, journey__key="abandoned_cart")
    assert (enrollment.status, enrollment.messages_sent) == ("completed", 2)


def test_an_order_in_the_store_half_an_hour_later_means_no_message_at_all():
    app, store = source_client("app"), source_client("pos")
    with time_machine.travel(T0, tick=False):
        customer = shopper(app)
        add_to_cart(app)
    with time_machine.travel(T0 + dt.timedelta(minutes=30), tick=False):
        call(
            store,
            "/ingest/v1/track",
            {
                "userId": "u-1",
                "event": "Order Completed",
                "properties": {
                    "order_id": "POS-1",
                    "total": 120000,
                    "products": [{"sku": "SKU-1"}],
                },
            },
        )
    for hours in (1, 2, 25, 48):
        tick(T0 + dt.timedelta(hours=hours))
    assert sent() == []
    enrollment = Enrollment.objects.get(customer=customer, journey__key="abandoned_cart")
    assert (enrollment.status, enrollment.reason) == ("exited", "Order Completed")


def test_a_cart_emptied_exits_the_journey():
    app = source_client("app")
    with time_machine.travel(T0, tick=False):
        customer = shopper(app)
        add_to_cart(app)
    with time_machine.travel(T0 + dt.timedelta(minutes=10), tick=False):
        call(
            app,
            "/ingest/v1/track",
            {"userId": "u-1", "event": "Product Removed", "properties": {"sku": "SKU-1"}},
        )
    tick(T0 + dt.timedelta(hours=2))
    assert sent() == []
    enrollment = Enrollment.objects.get(customer=customer, journey__key="abandoned_cart")
    assert (enrollment.status, enrollment.reason) == ("exited", "Cart emptied")


def test_the_cart_email_link_restores_the_app_cart_in_the_web_shop(client, settings):
    app, web = source_client("app"), source_client("web")
    with time_machine.travel(T0, tick=False):
        customer = shopper(app)
        add_to_cart(app)
    tick(T0 + dt.timedelta(hours=1, minutes=1))
    link = re.search(r"https?://\S+/cart/([^/\s]+)/", Message.objects.get(kind="email").text)
    assert link, Message.objects.get(kind="email").text
    token = link.group(1)

    # Opened where no shop page is configured: the crm shows the cart itself.
    page = client.get(f"/cart/{token}/")
    assert (page.status_code, "Blue scarf" in page.content.decode()) == (200, True)
    # With the shop's restore page configured, the link goes on there with the token.
    settings.CART_RESTORE_URL = "https://shop.example/cart/restore?t={token}"
    page = client.get(f"/cart/{token}/")
    assert (page.status_code, page["Location"]) == (
        302,
        "https://shop.example/cart/restore?t=" + token,
    )

    # The web shop asks for the cart the app filled, and the timeline learns where it came back.
    restored = call(web, "/api/v1/cart-restores", {"token": token, "channel": "web"}).json()
    assert restored["customer"] == str(customer.public_id)
    assert [(line["sku"], line["channel"]) for line in restored["cart"]["lines"]] == [
        ("SKU-1", "app")
    ]
    assert customer.interactions.filter(name="Cart Restored", channel="web").count() == 1

    # Once bought, the old link says so instead of an empty cart; a forged one is refused.
    with time_machine.travel(T0 + dt.timedelta(hours=2), tick=False):
        call(
            web,
            "/ingest/v1/track",
            {"userId": "u-1", "event": "Order Completed",
             "properties": {"order_id": "W-1", "total": 120000, "products": [{"sku": "SKU-1"}]}},
        )  # fmt: skip
    gone = web.post("/api/v1/cart-restores", {"token": token}, content_type="application/json")
    assert (gone.status_code, gone.json()["code"]) == (410, "cart_gone")
    assert client.get(f"/cart/{token}/").status_code == 410
    forged = web.post(
        "/api/v1/cart-restores", {"token": token[:-2] + "xx"}, content_type="application/json"
    )
    assert (forged.status_code, forged.json()["code"]) == (400, "invalid_link")


def test_quiet_hours_defer_a_reminder_to_nine_in_the_morning():
    app = source_client("app")
    evening = dt.datetime(2026, 11, 24, 20, 30, tzinfo=TEHRAN)
    with time_machine.travel(evening, tick=False):
        shopper(app)
        add_to_cart(app)
    tick(evening + dt.timedelta(hours=1, minutes=1))  # 21:31: due, but outside the window
    assert sent() == []
    message = Message.objects.get(kind="email")
    assert (message.status, message.rule) == ("queued", "send_window")
    assert message.not_before == dt.datetime(2026, 11, 25, 9, 0, tzinfo=TEHRAN)
    tick(dt.datetime(2026, 11, 25, 9, 0, tzinfo=TEHRAN))
    assert sent() == [("email", "sara@example.org")]


# --- Browse abandonment -------------------------------------------------------------------------


def test_browse_abandonment_is_sent_once_and_not_again_within_a_week():
    web = source_client("web")
    with time_machine.travel(T0, tick=False):
        shopper(web)

    def view(at, sku):
        with time_machine.travel(at, tick=False):
            call(web, "/ingest/v1/track", {"userId": "u-1", "event": "Product Viewed",
                                            "properties": {"sku": sku, "name": sku}})  # fmt: skip

    view(T0, "SKU-7")
    tick(T0 + dt.timedelta(hours=47))
    assert sent() == []
    tick(T0 + dt.timedelta(hours=48, minutes=1))
    assert sent() == [("email", "sara@example.org")]
    assert "LOOK10" in Message.objects.get().text

    view(T0 + dt.timedelta(days=3), "SKU-8")  # another product, within the week: nothing
    tick(T0 + dt.timedelta(days=6))
    assert len(sent()) == 1
    view(T0 + dt.timedelta(days=8), "SKU-8")  # a week later: a new one
    tick(T0 + dt.timedelta(days=10, minutes=1))
    assert len(sent()) == 2


# --- Back in stock ------------------------------------------------------------------------------


def test_back_in_stock_tells_three_subscribers_on_their_channels_once():
    rest = Client(HTTP_AUTHORIZATION=f"Bearer {apikeys.create_key(SourceFactory(name='ERP'))[1]}")
    call(rest, "/api/v1/products/SKU-9", {"name": "Red boots", "stock_quantity": 0}, "put")
    people = []
    for n, (channel, kind, value) in enumerate(
        [
            ("email", "email", "a@example.org"),
            ("sms", "phone", "+989121110000"),
            ("push", "push_token", "tok-123"),
        ]
    ):
        identity = IdentityFactory(kind=kind, value=value, verified=True)
        people.append(identity.customer)
        StockAlert.objects.create(
            customer=identity.customer,
            product_id=_product_pk("SKU-9"),
            channel=channel,
            status=StockAlert.Status.ACTIVE,
            address=value,
            created_at=T0 - dt.timedelta(days=3 - n),
        )
    with time_machine.travel(T0, tick=False):
        call(rest, "/api/v1/products/SKU-9", {"name": "Red boots", "stock_quantity": 5}, "put")
    tick(T0 + dt.timedelta(minutes=1))
    tick(T0 + dt.timedelta(minutes=2))
    assert sorted(sent()) == sorted(
        [("email", "a@example.org"), ("sms", "+989121110000"), ("push", "tok-123")]
    )
    assert set(StockAlert.objects.values_list("status", flat=True)) == {"notified"}
    tick(T0 + dt.timedelta(hours=1))
    assert len(sent()) == 3


def _product_pk(sku):
    from commerce.models import Product

    return Product.objects.get(sku=sku).pk


def test_a_product_sold_out_again_before_its_turn_notifies_nobody():
    from commerce.models import Product, Restock

    product = Product.objects.create(sku="SKU-5", name="Hat", stock_quantity=0)
    identity = IdentityFactory(kind="email", value="w@example.org", verified=True)
    StockAlert.objects.create(
        customer=identity.customer, product=product, channel="email", status="active"
    )
    Restock.objects.create(product=product, previous_quantity=0, quantity=3)
    tick(T0)
    assert sent() == []
    assert StockAlert.objects.get().status == "active"  # waits for the next restock
    assert Restock.objects.get().processed_at is not None


def test_a_merge_keeps_one_active_enrollment_per_journey_and_cart():
    from customers import services as customer_services

    app = source_client("app")
    with time_machine.travel(T0, tick=False):
        customer = shopper(app)
        add_to_cart(app)
    other = Identity.objects.get(kind="email").customer
    assert other == customer  # one person: nothing to merge; the relocation is tested below
    duplicate = Customer.objects.create()
    Enrollment.objects.create(
        journey=Enrollment.objects.get().journey,
        customer=duplicate,
        context_key=Enrollment.objects.get().context_key,
        next_run_at=T0,
    )
    customer_services.merge(survivor=customer, duplicate=duplicate)
    assert Enrollment.objects.filter(customer=customer, status="active").count() == 1


def order(client, order_id, at):
    with time_machine.travel(at, tick=False):
        call(
            client,
            "/ingest/v1/track",
            {
                "userId": "u-1",
                "event": "Order Completed",
                "properties": {
                    "order_id": order_id,
                    "total": 120000,
                    "products": [{"sku": "SKU-1"}],
                },
            },
        )


@pytest.mark.parametrize(
    ("after_sms", "attributed"), [(dt.timedelta(hours=10), True), (dt.timedelta(hours=30), False)]
)
def test_an_order_counts_for_the_journey_within_a_day_of_its_sms(after_sms, attributed):
    app = source_client("app")
    with time_machine.travel(T0, tick=False):
        customer = shopper(app)
        add_to_cart(app)
    tick(T0 + dt.timedelta(hours=1, minutes=1))
    sms_at = T0 + dt.timedelta(hours=24, minutes=1)
    tick(sms_at)
    assert [kind for kind, _ in sent()] == ["email", "sms"]
    order(app, "APP-1", sms_at + after_sms)
    enrollment = Enrollment.objects.get(customer=customer, journey__key="abandoned_cart")
    assert (enrollment.converted_at is not None) is attributed
    assert (enrollment.revenue == 120000) is attributed
