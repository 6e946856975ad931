import threading

import pytest
from django.db import connection

from customers import services
from customers.models import Customer, Identity
from tests.customers.factories import CustomerFactory


def run_together(*functions):
    barrier = threading.Barrier(len(functions))
    errors = []

    def worker(function):
        try:
            barrier.wait(timeout=10)
            function()
        except Exception as exc:  # reported below, so a failure is never silent
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f,)) for f in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


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
