from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import models
from django.forms.models import model_to_dict
from django.utils import timezone

from customers import relocation, services
from customers.errors import DomainError
from customers.models import Consent, Customer, Identity, Interaction, MergeRecord
from tests.customers.factories import (
    ConsentFactory,
    CustomerFactory,
    IdentityFactory,
    InteractionFactory,
)

pytestmark = pytest.mark.django_db


def state(*customers):
    """Everything a person could notice about these customers, row by row."""
    result = {}
    for customer in customers:
        customer = Customer.objects.get(pk=customer.pk)
        fields = model_to_dict(customer, exclude=["id"])
        fields["public_id"] = customer.public_id
        result[customer.pk] = {
            "fields": fields,
            "identities": sorted(
                customer.identities.values_list("pk", "kind", "value", "verified")
            ),
            "interactions": sorted(customer.interactions.values_list("pk", flat=True)),
            "consents": sorted(
                Consent.objects.filter(customer=customer).values_list(
                    "pk", "identity_id", "purpose", "status", "updated_at"
                )
            ),
        }
    return result


@pytest.fixture
def pair():
    now = timezone.now()
    survivor = CustomerFactory(
        first_name="مریم",
        last_name="",
        locale="",
        traits={"plan": "gold"},
        order_count=2,
        total_spent=Decimal("120.00"),
        stage="purchase",
        created_at=now - timedelta(days=30),
        first_seen_at=now - timedelta(days=30),
        last_seen_at=now - timedelta(days=2),
    )
    duplicate = CustomerFactory(
        first_name="Maryam",
        last_name="Rezaei",
        locale="fa",
        traits={"plan": "silver", "vip": True},
        order_count=1,
        total_spent=Decimal("30.50"),
        stage="retention",
        created_at=now,
        first_seen_at=now - timedelta(days=40),
        last_seen_at=now,
    )
    IdentityFactory(customer=survivor, kind="user_id", value="u-1")
    email = IdentityFactory(customer=duplicate, kind="email", value="m@r.ir")
    InteractionFactory.create_batch(3, customer=survivor)
    InteractionFactory.create_batch(4, customer=duplicate)
    ConsentFactory(customer=survivor, identity=None, purpose="marketing", status="granted")
    ConsentFactory(customer=duplicate, identity=None, purpose="marketing", status="withdrawn")
    ConsentFactory(customer=duplicate, identity=None, purpose="transactional", status="granted")
    ConsentFactory(customer=duplicate, identity=email, purpose="marketing", status="granted")
    return survivor, duplicate


def test_merge_moves_every_row_and_leaves_a_tombstone(pair):
    survivor, duplicate = pair
    services.merge(survivor=survivor, duplicate=duplicate)
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id == survivor.pk
    assert Interaction.objects.filter(customer=survivor).count() == 7
    assert Identity.objects.filter(customer=duplicate).count() == 0
    assert set(survivor.identities.values_list("kind", flat=True)) == {"user_id", "email"}


def test_merge_fills_blanks_sums_aggregates_and_keeps_survivor_values(pair):
    survivor, duplicate = pair
    services.merge(survivor=survivor, duplicate=duplicate)
    survivor.refresh_from_db()
    assert (survivor.first_name, survivor.last_name, survivor.locale) == ("مریم", "Rezaei", "fa")
    assert survivor.traits == {"plan": "gold", "vip": True}
    assert (survivor.order_count, survivor.total_spent) == (3, Decimal("150.50"))
    assert survivor.stage == "retention"
    assert survivor.first_seen_at == duplicate.first_seen_at
    assert survivor.last_seen_at == duplicate.last_seen_at


def test_consents_after_merge_opt_out_wins_and_addresses_keep_theirs(pair):
    survivor, duplicate = pair
    services.merge(survivor=survivor, duplicate=duplicate)
    wide = {
        c.purpose: c.status
        for c in Consent.objects.filter(customer=survivor, identity__isnull=True)
    }
    assert wide == {"marketing": "withdrawn", "transactional": "granted"}
    address = Consent.objects.get(identity__value="m@r.ir")
    assert (address.customer_id, address.status) == (survivor.pk, "granted")


def test_merge_then_undo_restores_both_customers_exactly(pair):
    survivor, duplicate = pair
    before = state(survivor, duplicate)
    record = services.merge(survivor=survivor, duplicate=duplicate)
    assert state(survivor, duplicate) != before
    services.undo_merge(record)
    assert state(survivor, duplicate) == before
    record.refresh_from_db()
    assert record.undone_at is not None


def test_undo_keeps_what_arrived_after_the_merge_on_the_survivor(pair):
    survivor, duplicate = pair
    record = services.merge(survivor=survivor, duplicate=duplicate)
    later, _ = services.record_interaction(customer=survivor, type="call", channel="phone")
    services.undo_merge(record)
    later.refresh_from_db()
    assert later.customer_id == survivor.pk


def test_undo_is_refused_while_a_later_merge_depends_on_it(pair):
    survivor, duplicate = pair
    first = services.merge(survivor=survivor, duplicate=duplicate)
    third = CustomerFactory()
    second = services.merge(survivor=survivor, duplicate=third)
    with pytest.raises(DomainError) as error:
        services.undo_merge(first)
    assert error.value.code == "merge_has_dependants"
    services.undo_merge(second)
    services.undo_merge(first)
    assert Customer.objects.live().count() == 3


def test_undo_twice_is_refused(pair):
    record = services.merge(survivor=pair[0], duplicate=pair[1])
    services.undo_merge(record)
    with pytest.raises(DomainError):
        services.undo_merge(record)


def test_chained_merges_keep_every_tombstone_pointing_at_a_live_customer():
    a, b, c = CustomerFactory(), CustomerFactory(), CustomerFactory()
    services.merge(survivor=b, duplicate=c)
    services.merge(survivor=a, duplicate=b)
    assert set(
        Customer.objects.filter(pk__in=[b.pk, c.pk]).values_list("merged_into", flat=True)
    ) == {a.pk}


@pytest.mark.parametrize(
    ("case", "code"),
    [("same", "same_customer"), ("merged", "already_merged"), ("accounts", "conflicting_user_ids")],
)
def test_merge_refuses_what_it_must_not_do(case, code):
    a, b = CustomerFactory(), CustomerFactory()
    if case == "same":
        b = a
    elif case == "merged":
        services.merge(survivor=a, duplicate=b)
    else:
        IdentityFactory(customer=a, kind="user_id", value="1")
        IdentityFactory(customer=b, kind="user_id", value="2")
    with pytest.raises(DomainError) as error:
        services.merge(survivor=a, duplicate=b)
    assert error.value.code == code


def test_merge_many_keeps_the_oldest():
    now = timezone.now()
    young = CustomerFactory(created_at=now)
    old = CustomerFactory(created_at=now - timedelta(days=9))
    middle = CustomerFactory(created_at=now - timedelta(days=1))
    records = services.merge_many([young, middle, old])
    assert {r.survivor_id for r in records} == {old.pk}
    assert MergeRecord.objects.count() == 2


def test_every_model_with_a_customer_foreign_key_has_a_relocation_handler():
    assert list(relocation.unregistered_models()) == []


def test_a_model_without_a_handler_is_reported(monkeypatch):
    class Orphan(models.Model):  # noqa: DJ008
        customer = models.ForeignKey(Customer, on_delete=models.CASCADE)

        class Meta:
            app_label = "customers"

    try:
        assert "customers.orphan" in list(relocation.unregistered_models())
    finally:
        from django.apps import apps

        del apps.all_models["customers"]["orphan"]
        apps.clear_cache()


def test_undo_keeps_what_changed_on_the_survivor_after_the_merge(pair):
    survivor, duplicate = pair
    record = services.merge(survivor=survivor, duplicate=duplicate)
    Customer.objects.filter(pk=survivor.pk).update(
        order_count=4, total_spent=Decimal("200.50"), last_name="Ahmadi"
    )  # one more order of 50.00 and a new surname since the merge
    services.undo_merge(record)
    survivor.refresh_from_db()
    assert (survivor.order_count, survivor.total_spent) == (3, Decimal("170.00"))
    assert survivor.last_name == "Ahmadi"
    assert survivor.locale == ""  # filled by the merge, untouched since: put back
