"""The demo shop in a real browser: a visitor fills a cart on /demo/shop/ (the page calls the
tracking API itself, with its track-only key), signs in with an email, and a support agent finds
them by that email and sees the live cart on the customer page's first screen."""

from __future__ import annotations

import re

import pytest

from commerce.models import Cart, Product
from customers.models import Identity
from customers.roles import SUPPORT_AGENT
from tests.customers.factories import StaffFactory
from tests.e2e.conftest import log_in

EMAIL = "visitor@example.org"
QUANTITY_SHOWN = """(expected) => [...document.querySelectorAll('#cart-lines li span:first-child')]
  .reduce((sum, label) => sum + parseInt(label.textContent, 10), 0) === expected"""


@pytest.fixture
def shop(settings, tmp_path):
    settings.DEMO_STOREFRONT = True
    settings.VAR_DIR = tmp_path  # where the page's key is kept
    Product.objects.create(sku="TEA-SAF", name="Saffron tea", price="14.50", currency="USD")
    Product.objects.create(sku="SCF-SLK", name="Silk scarf", price="59.00", currency="USD")


def test_a_visitors_cart_from_the_shop_page_shows_on_the_agents_screen(
    shop, open_page, shoot, run_tasks_inline
):
    visitor = open_page()
    visitor.goto("/demo/shop/")
    visitor.wait_for_selector("#status:not(:empty)")  # the page view was accepted
    shoot(visitor, "shop")

    for added, sku in enumerate(("TEA-SAF", "TEA-SAF", "SCF-SLK"), start=1):
        visitor.locator(f'.product[data-sku="{sku}"] .add').click()
        # The page shows a line only once the CRM accepted the event.
        visitor.wait_for_function(QUANTITY_SHOWN, arg=added)
    assert visitor.locator("#cart-lines li").count() == 2
    visitor.fill("#email", EMAIL)
    visitor.click("#identify button[type=submit]")
    visitor.wait_for_function("document.querySelector('#status').textContent.includes('identify')")
    assert "error" not in (visitor.get_attribute("#status", "class") or "")
    shoot(visitor, "cart-filled-and-signed-in")

    # The CRM built the cart from the events alone, on the customer the email now names.
    customer = Identity.objects.get(kind="email", value=EMAIL).customer
    cart = Cart.objects.get(customer=customer, status=Cart.Status.ACTIVE)
    assert {(line.sku, line.quantity) for line in cart.lines.all()} == {
        ("TEA-SAF", 2),
        ("SCF-SLK", 1),
    }

    agent = open_page()
    log_in(agent, StaffFactory(role=SUPPORT_AGENT))
    agent.goto(f"/admin/customers/customer/?q={EMAIL}")
    agent.locator("#result_list tbody tr").first.locator("th a, td a").first.click()
    agent.wait_for_url(re.compile(rf"/admin/customers/customer/{customer.pk}/change/"))
    card = agent.locator(".crm-card-cart")
    assert "Saffron tea" in card.inner_text()
    assert "Silk scarf" in card.inner_text()
    assert card.locator("[data-figure=cart-total]").inner_text() == "88.00"
    shoot(agent, "agent-sees-the-cart")
