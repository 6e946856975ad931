from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from commerce import services
from commerce.models import Product, StockAlert
from customers import apikeys
from tests.customers.factories import CustomerFactory, SourceFactory, StaffFactory

pytestmark = pytest.mark.django_db


def fill(n):
    for i in range(n):
        customer = CustomerFactory()
        product, _ = Product.objects.get_or_create(sku=f"P{i}", defaults={"stock_quantity": 0})
        services.add_to_cart(customer, services.LineInput(f"P{i}", 1), channel="web")
        services.place_order(
            customer,
            services.OrderInput(
                external_id=f"O{i}",
                lines=[services.LineInput(f"P{i}", 1, price=Decimal(2))],
                channel="store",
            ),
        )
        services.add_to_cart(customer, services.LineInput(f"P{i}", 2), channel="app")
        StockAlert.objects.create(
            customer=customer, product=product, channel="email", status="active"
        )
        apikeys.create_key(SourceFactory())


PAGES = [
    "commerce_cart",
    "commerce_order",
    "commerce_product",
    "commerce_stockalert",
    "commerce_restock",
    "customers_apikey",
    "customers_source",
]


def count(client, page):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse(f"admin:{page}_changelist")).status_code == 200
    return len(queries)


@pytest.mark.parametrize("page", PAGES)
def test_list_pages_cost_the_same_at_3_and_30_rows(client, page):
    client.force_login(StaffFactory(role="Administrator"))
    fill(3)
    small = count(client, page)
    fill(27)
    assert count(client, page) == small
    assert small <= 12
