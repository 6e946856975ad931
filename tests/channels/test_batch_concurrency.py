import pytest
from django.utils import timezone

from channels import batch
from commerce.models import Cart, CartLine
from customers.models import Customer, Identity, Interaction
from tests.customers.concurrency import run_together
from tests.customers.factories import SourceFactory


def overlapping_batch(tag, devices):
    events = []
    for n, device in enumerate(devices):
        events.append(
            {"type": "page", "anonymousId": device, "name": "Home", "messageId": f"{tag}-p{n}"}
        )
        events.append(
            {
                "type": "track",
                "anonymousId": device,
                "event": "Product Added",
                "properties": {"sku": f"S{n % 3}", "quantity": 1},
                "messageId": f"{tag}-a{n}",
            }
        )
    return events


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_over_the_same_new_people_lose_nothing(postgres_only):
    source = SourceFactory(name="race", kind="web")
    devices = [f"dev{n}" for n in range(30)]
    now = timezone.now()
    errors = run_together(
        lambda: batch.apply_batch(overlapping_batch("a", devices), source=source, received_at=now),
        lambda: batch.apply_batch(
            overlapping_batch("b", list(reversed(devices))), source=source, received_at=now
        ),
    )
    assert errors == []
    assert Interaction.objects.count() == 120
    assert Identity.objects.filter(kind="anonymous_id").count() == 30
    assert Customer.objects.live().count() == 30
    # Every device added one of its SKU from each batch: two units on its one live cart.
    assert Cart.objects.filter(status="active").count() == 30
    assert sum(CartLine.objects.values_list("quantity", flat=True)) == 60
