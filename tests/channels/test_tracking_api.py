import base64
import gzip
import json

import pytest

from commerce.models import Cart, Order
from customers import apikeys
from customers.models import Customer, Identity, Interaction

pytestmark = pytest.mark.django_db


def post(client, path, body, *, key=None, encoding=None, raw=None, basic=True):
    data = raw if raw is not None else json.dumps(body).encode()
    headers = {}
    if key is not None:
        token = base64.b64encode(f"{key}:".encode()).decode()
        headers["HTTP_AUTHORIZATION"] = f"Basic {token}" if basic else f"Bearer {key}"
    if encoding:
        headers["HTTP_CONTENT_ENCODING"] = encoding
    return client.post(f"/ingest/v1/{path}", data=data, content_type="application/json", **headers)


def event(kind="track", **fields):
    return {"type": kind, **fields}


def test_track_with_basic_auth_writes_the_timeline(client, source_key):
    _, key = source_key
    response = post(
        client, "track", {"anonymousId": "a1", "event": "Signed Up", "messageId": "m1"}, key=key
    )
    assert response.status_code == 200, response.content
    interaction = Interaction.objects.get()
    assert (interaction.name, interaction.channel, interaction.message_id) == (
        "Signed Up",
        "web",
        "m1",
    )


def test_bearer_auth_works_too(client, source_key):
    response = post(
        client, "page", {"anonymousId": "a1", "name": "Home"}, key=source_key[1], basic=False
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("key", "status", "code"),
    [
        (None, 401, "unauthorized"),
        ("crm_wrong", 401, "unauthorized"),
        ("nonsense", 401, "unauthorized"),
    ],
)
def test_missing_or_wrong_key_is_401_json(client, source_key, key, status, code):
    response = post(client, "track", {"anonymousId": "a", "event": "X"}, key=key)
    assert response.status_code == status
    assert response.json()["code"] == code
    assert response["WWW-Authenticate"]


def test_revoked_key_is_401(client, source_key):
    source, key = source_key
    apikeys.revoke_key(source.keys.get())
    assert post(client, "track", {"anonymousId": "a", "event": "X"}, key=key).status_code == 401


def test_key_without_track_scope_is_403(client, source_key):
    _, key = apikeys.create_key(source_key[0], scopes=["read"])
    response = post(client, "track", {"anonymousId": "a", "event": "X"}, key=key)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


@pytest.mark.parametrize(
    ("raw", "encoding", "code"),
    [
        (b"{not json", None, "invalid_json"),
        (b"\x1f\x8b\x08\x00broken", "gzip", "invalid_gzip"),
        (gzip.compress(b"{not json", mtime=0), "gzip", "invalid_json"),
        (b"[1, 2]", None, "invalid_message"),
        (json.dumps({"type": "track"}).encode()[:-1], None, "invalid_json"),
    ],
)
def test_broken_bodies_are_400_with_a_code(client, source_key, raw, encoding, code):
    response = post(client, "track", None, key=source_key[1], raw=raw, encoding=encoding)
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_gzip_body_is_accepted(client, source_key):
    body = gzip.compress(json.dumps({"anonymousId": "g", "event": "Zipped"}).encode())
    response = post(client, "track", None, key=source_key[1], raw=body, encoding="gzip")
    assert response.status_code == 200
    assert Interaction.objects.get().name == "Zipped"


def test_oversize_message_is_413(client, source_key):
    body = {"anonymousId": "a", "event": "Big", "properties": {"blob": "x" * 40_000}}
    response = post(client, "track", body, key=source_key[1])
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_gzip_bomb_is_413_without_inflating_it(client, source_key):
    bomb = gzip.compress(b'{"batch": [' + b" " * 50_000_000 + b"]}")
    response = post(client, "batch", None, key=source_key[1], raw=bomb, encoding="gzip")
    assert response.status_code == 413


def test_oversize_batch_is_413(client, source_key):
    batch = [event(anonymousId="a", event="E", properties={"p": "y" * 20_000}) for _ in range(30)]
    response = post(client, "batch", {"batch": batch}, key=source_key[1])
    assert response.status_code == 413


def test_too_many_messages_in_a_batch_is_413(client, source_key):
    batch = [event(anonymousId="a", event="E") for _ in range(2501)]
    response = post(client, "batch", {"batch": batch}, key=source_key[1])
    assert response.status_code == 413
    assert response.json()["code"] == "batch_too_large"


def test_batch_keeps_valid_messages_and_lists_each_rejected_one(client, source_key):
    batch = [
        event(anonymousId="a", event="Kept", messageId="ok-1"),
        event("explode", anonymousId="a", messageId="bad-type"),
        event(event="No identity", messageId="no-id"),
        event(anonymousId="a", messageId="no-event"),
        event("page", anonymousId="a", name="Kept too", messageId="ok-2"),
        "not an object",
    ]
    response = post(client, "batch", {"batch": batch}, key=source_key[1])
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [
        (1, "unknown_type"),
        (2, "missing_identifier"),
        (3, "missing_event"),
        (5, "invalid_message"),
    ]
    assert set(Interaction.objects.values_list("message_id", flat=True)) == {"ok-1", "ok-2"}


def ecommerce_batch():
    return [
        event(
            "identify",
            anonymousId="web-1",
            userId="u-1",
            messageId="b1",
            traits={"email": "Sara@Shop.IR", "firstName": "Sara", "phone": "۰۹۱۲۳۴۵۶۷۸۹"},
        ),
        event(
            anonymousId="web-1",
            event="Product Viewed",
            messageId="b2",
            properties={"sku": "SKU-1", "name": "Shoe", "price": 10},
        ),
        event(
            userId="u-1",
            event="Product Added",
            messageId="b3",
            properties={"sku": "SKU-1", "quantity": 2, "price": 10},
        ),
        event(
            userId="u-1",
            event="Order Completed",
            messageId="b4",
            properties={
                "order_id": "O-1",
                "total": 20,
                "products": [{"sku": "SKU-1", "quantity": 2, "price": 10}],
            },
        ),
    ]


def counts():
    return {
        model.__name__: model.objects.count()
        for model in (Customer, Identity, Interaction, Cart, Order)
    }


def test_replaying_the_same_batch_changes_nothing(client, source_key):
    first = post(client, "batch", {"batch": ecommerce_batch()}, key=source_key[1])
    assert first.json()["accepted"] == 4
    before = counts()
    cart = list(Cart.objects.values("pk", "status", "lines__quantity"))
    replay = post(client, "batch", {"batch": ecommerce_batch()}, key=source_key[1])
    assert replay.json() == {"success": True, "accepted": 0, "duplicates": 4, "rejected": []}
    assert counts() == before
    assert list(Cart.objects.values("pk", "status", "lines__quantity")) == cart


def test_unparseable_phone_is_kept_as_a_trait_not_an_identity(client, source_key):
    body = {"userId": "u-9", "traits": {"phone": "call me", "email": "x@y.org"}}
    assert post(client, "identify", body, key=source_key[1]).status_code == 200
    customer = Customer.objects.get()
    assert customer.traits["phone"] == "call me"
    assert not customer.identities.filter(kind="phone").exists()


def test_clock_skew_is_corrected_from_sent_at(client, source_key):
    body = {
        "batch": [event(anonymousId="a", event="Skewed", timestamp="2030-01-01T10:00:00Z")],
        "sentAt": "2030-01-01T10:05:00Z",
    }
    post(client, "batch", body, key=source_key[1])
    interaction = Interaction.objects.get()
    skew = interaction.received_at - interaction.occurred_at
    assert abs(skew.total_seconds() - 300) < 5


def test_rate_limit_is_429_with_retry_after(client, source_key):
    source, key = source_key
    source.rate_limit = 2
    source.save()
    statuses = [
        post(client, "track", {"anonymousId": "a", "event": "E"}, key=key).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    response = post(client, "track", {"anonymousId": "a", "event": "E"}, key=key)
    assert response.json()["code"] == "rate_limited"
    assert int(response["Retry-After"]) > 0


def test_events_after_a_merge_in_the_same_batch_land_on_the_survivor(client, source_key):
    from customers import services
    from tests.customers.factories import IdentityFactory

    account = services.identify({"user_id": "acct"}, traits={"firstName": "Older"})
    device = services.resolve({"anonymous_id": "dev"})
    IdentityFactory(customer=device, kind="anonymous_id", value="dev2")
    batch = [
        # A login: the device's profile merges into the (older) account's.
        event("identify", userId="acct", anonymousId="dev", messageId="login"),
        # Resolved in bulk to the device's profile before the merge happened.
        event("identify", anonymousId="dev2", traits={"lastName": "Karimi"}, messageId="t"),
        event(
            anonymousId="dev2",
            event="Product Added",
            messageId="add",
            properties={"sku": "S", "quantity": 1},
        ),
    ]
    assert post(client, "batch", {"batch": batch}, key=source_key[1]).json()["accepted"] == 3
    customer = Customer.objects.live().get()
    assert customer.pk == account.pk
    assert (customer.first_name, customer.last_name) == ("Older", "Karimi")
    assert Interaction.objects.filter(customer=customer).count() == 3
    assert Cart.objects.get(status="active").customer_id == account.pk
