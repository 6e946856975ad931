import pytest

from customers import services
from customers.models import Customer, Identity
from tests.customers.concurrency import run_together
from tests.customers.factories import CustomerFactory


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_events_of_one_user_make_one_customer(postgres_only):
    errors = run_together(
        *[lambda: services.resolve({"user_id": "racer", "anonymous_id": "dev-r"})] * 4
    )
    assert errors == []
    assert Identity.objects.filter(kind="user_id", value="racer").count() == 1
    assert Customer.objects.live().count() == 1


@pytest.mark.django_db(transaction=True)
def test_crossed_concurrent_merges_never_deadlock(postgres_only):
    a, b, c = CustomerFactory(), CustomerFactory(), CustomerFactory()
    errors = run_together(
        lambda: services.merge(survivor=a, duplicate=b),
        lambda: services.merge(survivor=b, duplicate=c),
        lambda: services.merge(survivor=a, duplicate=c),
    )
    # Some merges lose (their customer was merged first) but with a clear domain error.
    assert all(getattr(e, "code", None) == "already_merged" for e in errors), errors
    successes = 3 - len(errors)
    assert Customer.objects.live().count() == 3 - successes
    for customer in Customer.objects.filter(merged_into__isnull=False):
        assert Customer.objects.get(pk=customer.merged_into_id).merged_into_id is None
