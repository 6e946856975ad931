from datetime import timedelta

import pytest
from django.utils import timezone

from customers import reactors, services
from customers.models import Interaction
from tests.customers.factories import CustomerFactory, SourceFactory

pytestmark = pytest.mark.django_db


def test_replaying_a_message_id_from_the_same_source_changes_nothing():
    customer = CustomerFactory()
    source = SourceFactory()
    first, created = services.record_interaction(
        customer=customer,
        type="track",
        channel="web",
        name="Product Viewed",
        source=source,
        message_id="m-1",
    )
    again, created_again = services.record_interaction(
        customer=customer,
        type="track",
        channel="web",
        name="Other",
        source=source,
        message_id="m-1",
    )
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert Interaction.objects.count() == 1


def test_same_message_id_from_another_source_is_another_event():
    customer = CustomerFactory()
    for source in (SourceFactory(), SourceFactory()):
        services.record_interaction(
            customer=customer, type="track", channel="web", source=source, message_id="m-1"
        )
    assert Interaction.objects.count() == 2


def test_recording_moves_first_and_last_seen_outwards_only():
    customer = CustomerFactory()
    now = timezone.now()
    for delta in (0, -5, 3):
        services.record_interaction(
            customer=customer, type="page", channel="web", occurred_at=now + timedelta(days=delta)
        )
    customer.refresh_from_db()
    assert customer.first_seen_at == now - timedelta(days=5)
    assert customer.last_seen_at == now + timedelta(days=3)


def test_writes_on_a_tombstone_land_on_the_survivor():
    survivor, duplicate = CustomerFactory(), CustomerFactory()
    services.merge(survivor=survivor, duplicate=duplicate)
    interaction, _ = services.record_interaction(customer=duplicate, type="note", channel="phone")
    assert interaction.customer_id == survivor.pk


def test_reactors_run_in_order_on_new_interactions_only():
    seen = []
    reactors.register(lambda i: seen.append(("late", i.pk)), order=90, name="test.late")
    reactors.register(lambda i: seen.append(("early", i.pk)), order=10, name="test.early")
    try:
        source = SourceFactory()
        customer = CustomerFactory()
        for _ in range(2):
            services.record_interaction(
                customer=customer, type="track", channel="app", source=source, message_id="x"
            )
    finally:
        reactors.unregister("test.late")
        reactors.unregister("test.early")
    pk = Interaction.objects.get().pk
    assert seen == [("early", pk), ("late", pk)]


@pytest.mark.parametrize(
    ("type_", "name", "properties", "summary"),
    [
        ("page", "", {"title": "Blue shoes"}, "Blue shoes"),
        ("track", "Product Viewed", {"name": "Blue shoes"}, "Product Viewed: Blue shoes"),
        ("track", "Order Completed", {"order_id": "A-9"}, "Order Completed: A-9"),
        ("screen", "Checkout", {}, "Checkout"),
    ],
)
def test_a_summary_is_written_when_the_caller_gives_none(type_, name, properties, summary):
    interaction, _ = services.record_interaction(
        customer=CustomerFactory(), type=type_, channel="web", name=name, properties=properties
    )
    assert interaction.summary == summary


def test_a_reactor_that_names_its_events_sees_only_those():
    seen = []
    reactors.register(lambda i: seen.append(i.name), order=50, name="test.only", events={"A"})
    try:
        customer = CustomerFactory()
        for name in ("A", "B", "A"):
            services.record_interaction(customer=customer, type="track", channel="web", name=name)
    finally:
        reactors.unregister("test.only")
    assert seen == ["A", "A"]
