"""update_rows writes every kind of field the batch path changes, on any database."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from commerce.models import Cart, Order
from customers.bulk import update_rows
from customers.models import Customer, Interaction
from tests.customers.factories import CustomerFactory, InteractionFactory


@pytest.mark.django_db
def test_update_rows_writes_text_numbers_dates_json_and_foreign_keys():
    people = CustomerFactory.create_batch(3)
    when = timezone.now() - timedelta(days=2)
    for n, person in enumerate(people):
        person.first_name = f"سارا {n}"
        person.total_spent = Decimal("12.50") * n
        person.first_order_at = when if n else None
        person.stage = Customer.Stage.PURCHASE
    update_rows(people, ["first_name", "total_spent", "first_order_at", "stage"])

    saved = {p.pk: p for p in Customer.objects.filter(pk__in=[p.pk for p in people])}
    for n, person in enumerate(people):
        row = saved[person.pk]
        assert row.first_name == f"سارا {n}"
        assert row.total_spent == Decimal("12.50") * n
        assert row.first_order_at == (when if n else None)
        assert row.stage == Customer.Stage.PURCHASE

    event = InteractionFactory(customer=people[0], properties={"sku": "A"})
    event.properties = {"sku": "A", "crm_cart_id": 7, "nested": {"ok": [1, "دو"]}}
    update_rows([event], ["properties"])
    assert Interaction.objects.get(pk=event.pk).properties == event.properties

    cart = Cart.objects.create(customer=people[1])
    order = Order.objects.create(customer=people[1], external_id="B-1", channel="web")
    cart.status, cart.order = Cart.Status.CONVERTED, order
    update_rows([cart], ["status", "order"])
    cart.refresh_from_db()
    assert (cart.status, cart.order_id) == (Cart.Status.CONVERTED, order.pk)


@pytest.mark.django_db
def test_update_rows_mixes_values_rows_share_with_values_they_do_not():
    events = InteractionFactory.create_batch(4)
    when = timezone.now()
    for n, event in enumerate(events):
        event.name = "Same for all"
        event.summary = f"row {n}"
        event.properties = {"n": n} if n % 2 else {}
        event.agent = None
        event.occurred_at = when
    update_rows(events, ["name", "summary", "properties", "agent", "occurred_at"])
    saved = Interaction.objects.filter(pk__in=[e.pk for e in events]).order_by("pk")
    assert [(e.name, e.summary, e.properties, e.agent_id, e.occurred_at) for e in saved] == [
        ("Same for all", f"row {n}", {"n": n} if n % 2 else {}, None, when) for n in range(4)
    ]


@pytest.mark.django_db
def test_update_rows_with_nothing_to_write_sends_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        update_rows([], ["first_name"])
