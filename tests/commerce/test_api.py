import pytest
from django.core import mail

from commerce import services
from commerce.models import Cart, Order, Product, Restock, StockAlert
from customers import services as customers
from customers.models import Identity

pytestmark = pytest.mark.django_db


def test_put_cart_replaces_it_and_get_shows_it(api):
    customer = customers.resolve({"user_id": "c1"})
    url = f"/api/v1/customers/{customer.public_id}/cart"
    lines = [{"sku": "A", "quantity": 2, "price": "3.50"}, {"sku": "B", "quantity": 1}]
    assert api.put(url, {"lines": lines, "channel": "app"}, format="json").status_code == 200
    api.put(url, {"lines": [{"sku": "A", "quantity": 1}], "channel": "web"}, format="json")
    body = api.get(url).json()
    assert [(line["sku"], line["quantity"], line["channel"]) for line in body["lines"]] == [
        ("A", 1, "app")
    ]
    assert Cart.objects.filter(customer=customer, status="active").count() == 1


def test_empty_cart_reads_as_empty(api):
    customer = customers.resolve({"user_id": "c2"})
    body = api.get(f"/api/v1/customers/{customer.public_id}/cart").json()
    assert (body["status"], body["lines"]) == ("empty", [])


def order_body(order_id="P-1", **extra):
    return {
        "customer": {"email": "buyer@shop.ir"},
        "order_id": order_id,
        "channel": "store",
        "currency": "IRR",
        "lines": [
            {"sku": "KNOWN", "quantity": 2, "price": "10.00"},
            {"sku": "NEVER-SEEN", "quantity": 1, "price": "5.00"},
        ],
        **extra,
    }


def test_order_post_is_idempotent_and_keeps_unknown_skus(api):
    Product.objects.create(sku="KNOWN", name="Known")
    first = api.post("/api/v1/orders", order_body(), format="json")
    again = api.post("/api/v1/orders", order_body(), format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    order = Order.objects.get()
    assert order.total == 25
    assert sorted(order.lines.values_list("sku", "product__sku")) == [
        ("KNOWN", "KNOWN"),
        ("NEVER-SEEN", None),
    ]
    customer = order.customer
    customer.refresh_from_db()
    assert (customer.order_count, customer.stage) == (1, "purchase")
    assert customer.interactions.filter(name="Order Completed", channel="store").count() == 1


def test_order_converts_the_live_cart(api):
    customer = customers.resolve({"email": "buyer@shop.ir"})
    services.add_to_cart(customer, services.LineInput("KNOWN", 1), channel="app")
    api.post("/api/v1/orders", order_body(), format="json")
    cart = Cart.objects.get(customer=customer)
    assert cart.status == "converted"
    assert cart.order.external_id == "P-1"


def test_product_put_records_a_restock_from_zero(api):
    api.put("/api/v1/products/TEA", {"name": "Tea", "stock_quantity": 0}, format="json")
    api.put("/api/v1/products/TEA", {"stock_quantity": 0}, format="json")
    assert not Restock.objects.exists()
    response = api.put("/api/v1/products/TEA", {"stock_quantity": 12}, format="json")
    assert response.json()["stock_quantity"] == 12
    restock = Restock.objects.get()
    assert (restock.previous_quantity, restock.quantity) == (0, 12)


def test_stock_alert_for_an_unverified_email_waits_for_confirmation(
    api, run_tasks_inline, django_capture_on_commit_callbacks
):
    Product.objects.create(sku="TEA", name="Tea", stock_quantity=0)
    body = {"customer": {"email": "fan@tea.org"}, "sku": "TEA", "channel": "email"}
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/stock-alerts", body, format="json")
    assert (response.status_code, response.json()["status"]) == (201, "pending")
    assert api.post("/api/v1/stock-alerts", body, format="json").json()["status"] == "pending"
    assert StockAlert.objects.count() == 1
    assert len(mail.outbox) == 1
    assert "/alerts/confirm/" in mail.outbox[0].body
    assert mail.outbox[0].to == ["fan@tea.org"]


def test_confirmation_link_activates_the_alert_and_verifies_the_address(client):
    product = Product.objects.create(sku="TEA", name="Tea", stock_quantity=0)
    customer = customers.resolve({"email": "fan@tea.org"})
    alert = services.request_stock_alert(customer, product=product, channel="email")
    response = client.get(f"/alerts/confirm/{services.confirmation_token(alert)}/")
    assert response.status_code == 200
    alert.refresh_from_db()
    assert alert.status == "active"
    assert Identity.objects.get(kind="email").verified


def test_a_forged_confirmation_link_is_refused(client):
    response = client.get("/alerts/confirm/forged-token/")
    assert response.status_code == 400


def test_stock_alert_by_sms_needs_a_verified_phone(api):
    Product.objects.create(sku="TEA", stock_quantity=0)
    body = {"customer": {"phone": "09121234567"}, "sku": "TEA", "channel": "sms"}
    response = api.post("/api/v1/stock-alerts", body, format="json")
    assert (response.status_code, response.json()["code"]) == (422, "unverified_address")


def test_stock_alert_for_an_unknown_sku_is_404(api):
    body = {"customer": {"email": "a@b.org"}, "sku": "NOPE", "channel": "email"}
    assert api.post("/api/v1/stock-alerts", body, format="json").status_code == 404


def test_merge_combines_two_live_carts_and_undo_splits_them(db):
    a = customers.resolve({"user_id": "a"})
    b = customers.resolve({"anonymous_id": "b"})
    services.add_to_cart(a, services.LineInput("X", 1), channel="web")
    services.add_to_cart(b, services.LineInput("X", 2), channel="app")
    services.add_to_cart(b, services.LineInput("Y", 1), channel="app")
    record = customers.merge(survivor=a, duplicate=b)
    cart = Cart.objects.get(customer=a, status="active")
    assert sorted(cart.lines.values_list("sku", "quantity")) == [("X", 3), ("Y", 1)]
    customers.undo_merge(record)
    assert sorted(
        Cart.objects.get(customer=a, status="active").lines.values_list("sku", "quantity")
    ) == [("X", 1)]
    assert sorted(
        Cart.objects.get(customer=b, status="active").lines.values_list("sku", "quantity")
    ) == [("X", 2), ("Y", 1)]
