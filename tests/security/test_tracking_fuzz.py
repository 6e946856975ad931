"""hypothesis against the tracking API's payload parser: random JSON and message-shaped objects
with random field types, through the real endpoints. Never a 5xx; every 4xx is JSON with a code
and a message; and no message is ever partially applied — a rejected message leaves no row
behind, an accepted one leaves all of its effects."""

import itertools
import json
import uuid

import pytest
from django.db.models import Max
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels import tracking
from commerce.models import Cart, CartLine, Order, StockAlert
from customers.identity import normalize_identifier
from customers.models import Consent, Customer, Identity, Interaction, MergeSuggestion

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
dates = st.datetimes().map(lambda d: d.isoformat() + "Z") | st.sampled_from(
    ["2024-02-30T10:00:00Z", "2024-05-01T10:00:00", "0001-01-01T00:00:00+05:00", "yesterday"]
)
ids = st.text(min_size=1, max_size=20) | st.integers() | st.sampled_from(["u1", "u2", "a1", "a2"])
emails = st.sampled_from(["a@example.org", "A@EXAMPLE.org ", "not-an-email", ""]) | st.emails()
traits = st.fixed_dictionaries(
    {},
    optional={
        "email": emails | json_values,
        "phone": st.sampled_from(["+989121234567", "09121234567", "۰۹۱۲۱۲۳۴۵۶۷", "12"])
        | json_values,
        "firstName": st.text(max_size=300) | json_values,
        "name": st.text(max_size=300) | json_values,
        "locale": st.sampled_from(["fa-IR", "en", "xx"]) | json_values,
        "timezone": st.sampled_from(["Asia/Tehran", "Mars/Base"]) | json_values,
    },
)
ECOMMERCE = [
    "Product Viewed",
    "Product Added",
    "Product Removed",
    "Cart Viewed",
    "Checkout Started",
    "Order Completed",
    "Signed Up",
]
ecommerce = st.sampled_from(ECOMMERCE)
products = st.fixed_dictionaries(
    {},
    optional={
        "product_id": ids | json_values,
        "sku": ids | json_values,
        "price": st.integers(-10, 10**20)
        | st.floats(allow_nan=False, allow_infinity=False)
        | json_values,
        "quantity": st.integers(-(10**12), 10**12) | json_values,
        "order_id": ids | json_values,
        "total": json_values,
        "currency": st.sampled_from(["USD", "IRR", "XXXX"]) | json_values,
        "products": st.lists(json_values, max_size=3),
    },
)
messages = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(tracking.MESSAGE_TYPES) | json_values,
        "userId": ids | json_values,
        "anonymousId": ids | json_values,
        "previousId": ids | json_values,
        "groupId": ids | json_values,
        "event": ecommerce | json_values,
        "name": st.text(max_size=50) | json_values,
        "properties": products | json_values,
        "traits": traits | json_values,
        "context": st.fixed_dictionaries({}, optional={"traits": traits}) | json_values,
        "timestamp": dates | json_values,
        "sentAt": dates | json_values,
    },
)
anything = json_values | messages


def post(client, key, path, body):
    return client.generic(
        "POST",
        f"/ingest/v1/{path}",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def fingerprint():
    """Everything a tracking message can write, counted, plus the last profile change."""
    models = (Customer, Identity, Interaction, Consent, Cart, CartLine, Order, StockAlert)
    counts = tuple(model.objects.count() for model in (*models, MergeSuggestion))
    return counts, Customer.objects.aggregate(last=Max("updated_at"))["last"]


def assert_answer(response):
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("code"), str)
        assert isinstance(body.get("message"), str)


_counter = itertools.count()


def with_fresh_id(message):
    """Most messages get a messageId of their own, so each example's effects can be found."""
    if isinstance(message, dict) and next(_counter) % 5:
        return {**message, "messageId": f"fuzz-{uuid.uuid4().hex}"}
    return message


def assert_all_effects(message, message_id, call):
    interaction = Interaction.objects.get(message_id=message_id)
    live = Customer.objects.get(pk=interaction.customer_id)
    assert live.merged_into_id is None
    # An alias links previousId to userId; its anonymousId, if any, is not read.
    fields = [("userId", "user_id")] + (
        [] if call == "alias" else [("anonymousId", "anonymous_id")]
    )
    for field, kind in fields:
        value = message.get(field)
        if isinstance(value, bool) or not isinstance(value, str | int):
            continue
        normalized = normalize_identifier(kind, value)  # junk ("0", "null") is never stored
        if normalized is None:
            continue
        identity = Identity.objects.filter(kind=kind, value=normalized).first()
        assert identity is not None, (message, list(Identity.objects.values("kind", "value")))
        # It points at a live customer: this one, or (an id another account holds, which the
        # trust rules never merge) that account's.
        assert Customer.objects.get(pk=identity.customer_id).merged_into_id is None


@given(body=anything)
@FUZZ
def test_random_json_to_any_single_call_is_all_or_nothing(client, source_key, body):
    for path in ("track", "identify", "page", "alias"):
        message = with_fresh_id(body)
        before = fingerprint()
        response = post(client, source_key[1], path, message)
        assert_answer(response)
        if response.status_code != 200:
            assert fingerprint() == before, (path, message, response.json())
        elif isinstance(message, dict) and str(message.get("messageId", "")).startswith("fuzz-"):
            assert_all_effects(message, message["messageId"], path)


@given(batch=st.lists(anything, max_size=6), envelope=json_values)
@FUZZ
def test_random_batches_keep_the_good_messages_and_leave_nothing_of_the_rejected(
    client, source_key, batch, envelope
):
    batch = [with_fresh_id(m) for m in batch]
    before = fingerprint()
    body = {"batch": batch} if not isinstance(envelope, dict) else {**envelope, "batch": batch}
    response = post(client, source_key[1], "batch", body)
    assert_answer(response)
    if response.status_code != 200:
        assert fingerprint() == before
        return
    result = response.json()
    rejected = {r["index"] for r in result["rejected"]}
    for index, message in enumerate(batch):
        message_id = message.get("messageId") if isinstance(message, dict) else None
        if not (isinstance(message_id, str) and message_id.startswith("fuzz-")):
            continue
        if index in rejected:
            assert not Interaction.objects.filter(message_id=message_id).exists()
        else:
            assert_all_effects(message, message_id, message.get("type"))
    assert result["accepted"] + result["duplicates"] + len(rejected) == len(batch)


@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
@FUZZ
def test_random_bytes_are_answered_with_json(client, source_key, raw):
    before = fingerprint()
    for path in ("track", "batch"):
        response = client.generic(
            "POST",
            f"/ingest/v1/{path}",
            raw,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {source_key[1]}",
        )
        assert_answer(response)
        if response.status_code != 200:
            assert fingerprint() == before
