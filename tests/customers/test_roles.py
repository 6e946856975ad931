import pytest
from django.urls import reverse

from customers.models import Interaction, Source
from tests.customers.factories import CustomerFactory, StaffFactory

pytestmark = pytest.mark.django_db

LOG_FORM = 'id="log-interaction-form"'
CALL = {"type": "call", "channel": "phone", "direction": "in", "summary": "Called about a refund"}


@pytest.fixture
def customer():
    return CustomerFactory(interactions=3)


def login(client, role):
    client.force_login(StaffFactory(role=role))
    return client


def change_url(customer):
    return reverse("admin:customers_customer_change", args=[customer.pk])


def log_url(customer):
    return reverse("admin:customers_customer_log", args=[customer.pk])


# --- Support agent ------------------------------------------------------------------------------


def test_support_agent_sees_the_customer_list_and_page_with_the_log_form(client, customer):
    login(client, "Support agent")

    listing = client.get(reverse("admin:customers_customer_changelist"))
    page = client.get(change_url(customer))

    assert listing.status_code == 200
    assert page.status_code == 200
    assert LOG_FORM in page.content.decode()
    assert 'name="_save"' not in page.content.decode()  # the profile is read-only for agents


def test_support_agent_can_log_an_interaction(client, customer):
    login(client, "Support agent")

    response = client.post(log_url(customer), CALL)

    assert response.status_code == 302
    assert Interaction.objects.filter(customer=customer, type="call").count() == 1


def test_support_agent_can_merge_customers(client):
    login(client, "Support agent")

    response = client.get(reverse("admin:customers_customer_changelist"))

    actions = [name for name, _label in response.context["action_form"].fields["action"].choices]
    assert "merge_selected" in actions


@pytest.mark.parametrize(
    ("url_name", "args"),
    [
        ("admin:customers_customer_delete", "customer"),
        ("admin:customers_customer_add", None),
        ("admin:customers_source_add", None),
        ("admin:customers_consent_add", None),
        ("admin:auth_user_changelist", None),
        ("admin:auth_group_changelist", None),
        ("admin:django_celery_beat_periodictask_changelist", None),
    ],
)
def test_support_agent_is_refused_what_the_role_does_not_grant(client, customer, url_name, args):
    login(client, "Support agent")

    response = client.get(reverse(url_name, args=[customer.pk] if args else None))

    assert response.status_code == 403


def test_support_agent_cannot_edit_a_customer_profile(client, customer):
    login(client, "Support agent")

    response = client.post(change_url(customer), {"first_name": "Changed", "stage": "purchase"})

    customer.refresh_from_db()
    assert response.status_code == 403
    assert customer.first_name != "Changed"


def test_support_agent_cannot_add_a_source(client):
    login(client, "Support agent")

    response = client.post(reverse("admin:customers_source_add"), {"name": "pos", "kind": "pos"})

    assert response.status_code == 403
    assert not Source.objects.exists()


# --- Marketing ----------------------------------------------------------------------------------


def test_marketing_sees_the_customer_page_without_the_log_form(client, customer):
    login(client, "Marketing")

    response = client.get(change_url(customer))

    assert response.status_code == 200
    assert LOG_FORM not in response.content.decode()
    assert len(response.context["timeline_rows"]) == 3


def test_marketing_cannot_log_an_interaction(client, customer):
    login(client, "Marketing")

    response = client.post(log_url(customer), CALL)

    assert response.status_code == 403
    assert not Interaction.objects.filter(type="call").exists()


def test_marketing_cannot_merge_or_review_merges(client):
    login(client, "Marketing")

    listing = client.get(reverse("admin:customers_customer_changelist"))
    suggestions = client.get(reverse("admin:customers_mergesuggestion_changelist"))

    assert listing.status_code == 200
    assert listing.context["action_form"] is None
    assert suggestions.status_code == 403


# --- Administrator and anonymous ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url_name", "args"),
    [
        ("admin:customers_customer_changelist", None),
        ("admin:customers_customer_change", "customer"),
        ("admin:customers_customer_delete", "customer"),
        ("admin:customers_customer_add", None),
        ("admin:customers_source_add", None),
        ("admin:customers_mergerecord_changelist", None),
        ("admin:customers_mergesuggestion_changelist", None),
        ("admin:auth_user_changelist", None),
        ("admin:auth_group_changelist", None),
    ],
)
def test_administrator_can_open_every_page(client, customer, url_name, args):
    login(client, "Administrator")

    response = client.get(reverse(url_name, args=[customer.pk] if args else None))

    assert response.status_code == 200


def test_administrator_can_edit_the_profile_and_log_an_interaction(client, customer):
    login(client, "Administrator")

    page = client.get(change_url(customer))
    logged = client.post(log_url(customer), CALL)

    assert 'name="_save"' in page.content.decode()
    assert LOG_FORM in page.content.decode()
    assert logged.status_code == 302
    assert Interaction.objects.filter(customer=customer, type="call").exists()


@pytest.mark.parametrize(
    "url",
    [
        lambda c: reverse("admin:customers_customer_changelist"),
        lambda c: reverse("admin:customers_customer_change", args=[c.pk]),
        lambda c: reverse("admin:customers_customer_log", args=[c.pk]),
    ],
)
def test_anonymous_visitors_are_sent_to_the_login_page(client, customer, url):
    response = client.get(url(customer))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize(
    ("role", "status"), [("Support agent", 200), ("Marketing", 200), ("Administrator", 200)]
)
def test_every_role_reads_orders_and_carts(client, role, status):
    client.force_login(StaffFactory(role=role))
    for name in ("order", "cart", "product", "stockalert"):
        assert client.get(reverse(f"admin:commerce_{name}_changelist")).status_code == status


def test_a_support_agent_cannot_change_an_order(client):
    client.force_login(StaffFactory(role="Support agent"))
    assert client.get(reverse("admin:commerce_order_add")).status_code == 403
