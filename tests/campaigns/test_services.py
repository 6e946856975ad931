"""Static lists from a CSV of identifiers, and the hashed audience for ad platforms."""

import hashlib

import pytest

from campaigns import services
from campaigns.models import Segment, SegmentMember
from customers.errors import DomainError
from customers.models import Customer
from tests.customers.factories import CustomerFactory, IdentityFactory

pytestmark = pytest.mark.django_db


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def listed():
    return Segment.objects.create(name="VIP list", kind=Segment.Kind.STATIC)


def test_a_csv_puts_the_customers_it_names_on_the_list_and_reports_every_bad_line(listed):
    sara = IdentityFactory(kind="phone", value="+989121234567").customer
    ali = IdentityFactory(kind="email", value="ali@example.org").customer
    reza = CustomerFactory()
    merged = IdentityFactory(kind="email", value="old@example.org").customer
    Customer.objects.filter(pk=merged.pk).update(merged_into=reza)
    SegmentMember.objects.create(segment=listed, customer=ali)
    csv = (
        "Email,Phone,id,notes\n"
        ",۰۹۱۲ ۱۲۳ ۴۵۶۷,,Persian digits\n"  # line 2: Sara by phone
        " ALI@Example.org ,,,already on the list\n"  # line 3
        f",,{reza.public_id},by public id\n"  # line 4
        "old@example.org,,,merged: counts as Reza\n"  # line 5
        "nobody@example.org,,,\n"  # line 6
        "not-an-email,,,\n"  # line 7
        ",,,\n"  # line 8
        ",09121234567,,Sara again\n"  # line 9
    )
    result = services.import_members(listed, csv.encode("utf-8-sig"))

    assert (result.added, result.already) == (2, 1)
    assert [(r.line, r.value) for r in result.rejected] == [
        (6, "nobody@example.org"),
        (7, "not-an-email"),
        (8, ""),
    ]
    assert "No customer" in result.rejected[0].reason
    members = set(SegmentMember.objects.filter(segment=listed).values_list("customer", flat=True))
    assert members == {sara.pk, ali.pk, reza.pk}


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"name,city\nSara,Tehran\n", "no_identifier_column"),
        ("email\nsara@example.org\n".encode("utf-16"), "not_utf8"),
    ],
)
def test_a_file_that_cannot_be_read_says_why_and_changes_nothing(listed, content, code):
    with pytest.raises(DomainError) as caught:
        services.import_members(listed, content)
    assert caught.value.code == code
    assert not SegmentMember.objects.exists()


def test_a_rules_segment_takes_no_list():
    segment = Segment.objects.create(name="Rules", rules={"all": []})
    with pytest.raises(DomainError):
        services.import_members(segment, "email\nx@example.org\n")


def test_the_audience_file_holds_only_hashes_of_normalised_addresses():
    buyer = CustomerFactory(order_count=2)
    IdentityFactory(customer=buyer, kind="email", value="sara@example.org")
    IdentityFactory(customer=buyer, kind="phone", value="+989121234567")
    IdentityFactory(customer=buyer, kind="user_id", value="u-1")
    IdentityFactory(customer=CustomerFactory(order_count=0), kind="email", value="no@example.org")
    segment = Segment.objects.create(
        name="Buyers", rules={"all": [{"field": "order_count", "op": "gte", "value": 1}]}
    )
    rows = list(services.audience_rows(segment))
    assert rows == [
        ["email", "phone"],
        [sha("sara@example.org"), ""],
        ["", sha("989121234567")],
    ]
