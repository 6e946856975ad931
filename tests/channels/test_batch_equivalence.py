"""A batch applied in bulk ends in the same state as its messages applied one by one."""

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels import batch, tracking
from commerce.models import Cart, CartLine, Order, OrderLine, Product
from customers.models import Customer, Identity, Interaction, MergeRecord, MergeSuggestion
from journeys.models import Enrollment
from tests.customers.factories import SourceFactory

USERS = ["u1", "u2"]
DEVICES = ["d1", "d2", "d3"]
EMAILS = ["a@x.org", "b@x.org"]
SKUS = ["S1", "S2"]


def ids():
    return st.fixed_dictionaries(
        {}, optional={"userId": st.sampled_from(USERS), "anonymousId": st.sampled_from(DEVICES)}
    ).filter(bool)


def message(kind_and_body):
    kind, body = kind_and_body
    return {"type": kind, **body}


messages = st.one_of(
    st.tuples(st.just("page"), ids().map(lambda i: {**i, "name": "Home"})),
    st.tuples(
        st.just("alias"),
        st.builds(
            lambda device, user: {"previousId": device, "userId": user},
            st.sampled_from(DEVICES),
            st.sampled_from(USERS),
        ),
    ),
    st.tuples(
        st.just("identify"),
        st.builds(
            lambda i, email, name: {**i, "traits": {"email": email, "firstName": name}},
            ids(),
            st.sampled_from(EMAILS),
            st.sampled_from(["Sara", "Leila"]),
        ),
    ),
    st.tuples(
        st.just("track"),
        st.builds(
            lambda i, event, sku, qty: {
                **i,
                "event": event,
                "properties": {"sku": sku, "quantity": qty, "price": 2},
            },
            ids(),
            st.sampled_from(
                [
                    "Product Viewed",
                    "Product Added",
                    "Product Removed",
                    "Cart Viewed",
                    "Checkout Started",
                ]
            ),
            st.sampled_from(SKUS),
            st.integers(1, 3),
        ),
    ),
    st.tuples(
        st.just("track"),
        st.builds(
            lambda i, n: {
                **i,
                "event": "Order Completed",
                "properties": {
                    "order_id": f"o{n}",
                    "total": 5,
                    "products": [{"sku": "S1", "quantity": 1}],
                },
            },
            ids(),
            st.integers(1, 3),
        ),
    ),
).map(message)


def wipe():
    for model in (
        Enrollment,
        OrderLine,
        Order,
        CartLine,
        Cart,
        Product,
        MergeRecord,
        MergeSuggestion,
        Interaction,
        Identity,
    ):
        model.objects.all().delete()
    Customer.objects.update(merged_into=None)
    Customer.objects.all().delete()


def state():
    def key(customer_id):
        return frozenset(
            Identity.objects.filter(customer_id=customer_id).values_list("kind", "value")
        )

    people = {
        key(c.pk): (c.first_name, c.order_count, str(c.total_spent), c.stage)
        for c in Customer.objects.live()
    }
    timeline = sorted(
        (
            i.message_id,
            key(i.customer_id),
            i.name,
            i.summary,
            "crm_cart_id" in i.properties,
            "crm_order_id" in i.properties,
        )
        for i in Interaction.objects.all()
    )
    carts = sorted(
        (
            key(cart.customer_id),
            cart.status,
            cart.checkout_started_at is not None,
            cart.order.external_id if cart.order else None,
            tuple(sorted(cart.lines.values_list("sku", "quantity", "channel", "price"))),
        )
        for cart in Cart.objects.all()
    )
    enrollments = sorted(
        (e.journey.key, key(e.customer_id), e.context_key.split(":")[0], e.status, e.reason)
        for e in Enrollment.objects.select_related("journey")
    )
    return people, timeline, carts, enrollments, Order.objects.count(), Product.objects.count()


@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=st.lists(messages, min_size=1, max_size=15))
def test_bulk_and_one_by_one_end_in_the_same_state(sequence):
    source = SourceFactory(name="equivalence", kind="web")
    sequence = [{**m, "messageId": f"m{n}"} for n, m in enumerate(sequence)]
    now = timezone.now()

    wipe()
    for m in sequence:
        try:
            tracking.apply_message(m, source=source, received_at=now)
        except tracking.MessageError:
            pass
    one_by_one = state()

    wipe()
    result = batch.apply_batch(sequence, source=source, received_at=now)
    assert state() == one_by_one, result
