"""The demo storefront and browser access to the tracking API (CORS, track-only keys)."""

import json

import pytest

from commerce.models import Cart, Order
from commerce.storefront import storefront_key
from customers import apikeys
from customers.models import ApiKey, Identity
from tests.customers.factories import SourceFactory

pytestmark = pytest.mark.django_db
SHOP = "https://shop.example.com"


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.TRACKING_CORS_ORIGINS = [SHOP]
    settings.DEMO_STOREFRONT = True


def track(client, key, body, *, origin=SHOP):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    if origin:
        headers["HTTP_ORIGIN"] = origin
    return client.post(
        "/ingest/v1/track", data=json.dumps(body), content_type="application/json", **headers
    )


def preflight(client, origin):
    return client.options(
        "/ingest/v1/track",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )


def track_only_key():
    _, raw = apikeys.create_key(SourceFactory(kind="web"), scopes=["track"])
    return raw


def test_preflight_from_a_configured_origin_is_answered(client):
    response = preflight(client, SHOP)
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "Authorization" in response["Access-Control-Allow-Headers"]
    assert "Origin" in response["Vary"]


def test_preflight_from_another_origin_is_refused_with_a_code(client):
    response = preflight(client, "https://evil.example.net")
    assert response.status_code == 403
    assert response.json()["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in response


def test_other_paths_get_no_cors_headers(client):
    response = client.get("/api/v1/customers", HTTP_ORIGIN=SHOP)
    assert "Access-Control-Allow-Origin" not in response


def test_a_track_only_key_from_the_page_writes_the_cart(client):
    response = track(
        client,
        track_only_key(),
        {
            "anonymousId": "visitor-1",
            "event": "Product Added",
            "properties": {"sku": "TEA-1", "name": "Tea", "price": 4.5, "quantity": 2},
        },
    )
    assert response.status_code == 200, response.content
    assert response["Access-Control-Allow-Origin"] == SHOP
    cart = Cart.objects.get(status=Cart.Status.ACTIVE)
    assert [(line.sku, line.quantity) for line in cart.lines.all()] == [("TEA-1", 2)]


def test_a_key_that_can_do_more_is_refused_from_a_page(client, source_key):
    _, key = source_key  # every scope: must never sit in a web page
    response = track(client, key, {"anonymousId": "v", "event": "Signed Up"})
    assert response.status_code == 403
    assert response.json()["code"] == "browser_key_scope"
    # The same key from a server (no Origin) still works.
    assert track(client, key, {"anonymousId": "v", "event": "Up"}, origin="").status_code == 200


def test_an_unlisted_origin_gets_no_allow_origin_header(client):
    response = track(
        client, track_only_key(), {"anonymousId": "v", "event": "X"}, origin="https://other.org"
    )
    assert "Access-Control-Allow-Origin" not in response


def test_the_shop_page_lists_products_and_carries_a_track_only_key(client):
    from commerce.models import Product

    Product.objects.create(sku="TEA-1", name="Saffron tea", price="14.50", currency="USD")
    response = client.get("/demo/shop/")
    assert response.status_code == 200
    assert "Saffron tea" in response.content.decode()
    config = json.loads(
        response.content.decode()
        .split('id="shop-config" type="application/json">')[1]
        .split("</script>")[0]
    )
    key = apikeys.authenticate(config["key"])
    assert key is not None
    assert key.scopes == [ApiKey.Scope.TRACK]
    assert config["endpoint"] == "/ingest/v1/"
    # The same key on the next visit, not a new one each time.
    assert storefront_key() == config["key"]
    assert ApiKey.objects.count() == 1


def test_a_lost_or_revoked_key_is_replaced(client, settings):
    first = storefront_key()
    apikeys.revoke_key(apikeys.authenticate(first))
    second = storefront_key()
    assert second != first
    assert apikeys.authenticate(second) is not None
    (settings.VAR_DIR / "demo-storefront.key").unlink()
    assert storefront_key() not in (first, second)


def test_the_shop_is_off_unless_enabled(client, settings):
    settings.DEMO_STOREFRONT = False
    assert client.get("/demo/shop/").status_code == 404


def test_a_visit_identify_and_order_from_the_page_key(client):
    key = storefront_key()
    base = {"anonymousId": "visitor-2"}
    added = {"sku": "TEA-1", "name": "Tea", "price": 10, "quantity": 1}
    response = track(client, key, {**base, "event": "Product Added", "properties": added})
    assert response.status_code == 200
    identify = client.post(
        "/ingest/v1/identify",
        data=json.dumps({**base, "traits": {"email": "Visitor@Example.org"}}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        HTTP_ORIGIN=SHOP,
    )
    assert identify.status_code == 200
    order = {"order_id": "DEMO-1", "total": 10, "currency": "USD", "products": [added]}
    response = track(client, key, {**base, "event": "Order Completed", "properties": order})
    assert response.status_code == 200
    customer = Identity.objects.get(kind="email", value="visitor@example.org").customer
    assert Order.objects.get(external_id="DEMO-1").customer == customer
    assert not Cart.objects.filter(customer=customer, status=Cart.Status.ACTIVE).exists()
