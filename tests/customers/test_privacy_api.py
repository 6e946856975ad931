"""Data rights over the REST API: export and erase, only with a key holding the privacy scope."""

import uuid

import pytest
from rest_framework.test import APIClient

from customers import apikeys
from customers.models import Customer, Identity
from security.models import AuditEntry
from tests.customers.test_privacy import EMAIL, EMAIL_NORMAL, build_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(source_key):
    return build_history(source_key[0])


def client_with(source, scopes):
    key, raw = apikeys.create_key(source, scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.key = key
    return client


@pytest.fixture
def privacy_client(source_key):
    return client_with(source_key[0], ["privacy"])


def export(client, customer):
    return client.get(f"/api/v1/customers/{customer.public_id}/export")


def erase(client, customer):
    return client.post(f"/api/v1/customers/{customer.public_id}/erase")


def test_a_privacy_key_exports_everything_and_the_export_is_audited(privacy_client, person):
    response = export(privacy_client, person)

    assert response.status_code == 200
    document = response.json()
    assert document["customer"]["public_id"] == str(person.public_id)
    assert EMAIL_NORMAL in {i["value"] for i in document["identities"]}
    assert len(document["orders"]) == 1
    assert all(document[section] for section in ("messages", "consents", "cases"))
    entry = AuditEntry.objects.get(action="customer.export")
    assert entry.actor_label == f"API key {privacy_client.key.prefix}…"
    assert (entry.target_id, entry.details["via"]) == (str(person.pk), "api")


@pytest.mark.parametrize("scopes", [["read"], ["write"], ["read", "write", "track"]])
def test_read_and_write_keys_may_neither_export_nor_erase(source_key, person, scopes):
    client = client_with(source_key[0], scopes)

    for response in (export(client, person), erase(client, person)):
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"
        assert "privacy" in response.json()["message"]
    assert Customer.objects.get(pk=person.pk).erased_at is None
    assert not AuditEntry.objects.filter(action__in=["customer.export", "customer.erase"]).exists()


def test_a_privacy_key_may_not_read_or_write_customers(privacy_client, person):
    response = privacy_client.get(f"/api/v1/customers/{person.public_id}")

    assert response.status_code == 403


def test_a_privacy_key_erases_and_the_erasure_is_audited(privacy_client, person, api):
    response = erase(privacy_client, person)

    assert response.status_code == 200
    assert response.json()["id"] == str(person.public_id)
    assert response.json()["erased_at"]
    entry = AuditEntry.objects.get(action="customer.erase")
    assert entry.actor_label == f"API key {privacy_client.key.prefix}…"
    assert entry.target_label == "Erased customer"
    profile = api.get(f"/api/v1/customers/{person.public_id}").json()
    assert (profile["first_name"], profile["last_name"], profile["traits"]) == ("", "", {})
    assert profile["identities"] == []
    assert profile["order_count"] == 1


def test_the_erased_email_is_not_found_or_stored_again_through_the_apis(
    privacy_client, person, api, client, source_key
):
    erase(privacy_client, person)

    assert api.get("/api/v1/customers", {"email": EMAIL}).json()["results"] == []
    response = client.post(
        "/ingest/v1/identify",
        data={"userId": "u-777", "traits": {"email": EMAIL}},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {source_key[1]}",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "identifier_erased"
    assert not Identity.objects.filter(value__in=[EMAIL_NORMAL, "u-777"]).exists()


@pytest.mark.parametrize("path", ["export", "erase"])
def test_an_unknown_customer_is_404_json(privacy_client, path):
    url = f"/api/v1/customers/{uuid.uuid4()}/{path}"
    response = privacy_client.get(url) if path == "export" else privacy_client.post(url)

    assert response.status_code == 404
    assert response.json()["code"] == "customer_not_found"


def test_export_only_answers_get_and_erase_only_post(privacy_client, person):
    assert privacy_client.post(f"/api/v1/customers/{person.public_id}/export").status_code == 405
    assert privacy_client.get(f"/api/v1/customers/{person.public_id}/erase").status_code == 405
    assert Customer.objects.get(pk=person.pk).erased_at is None


def test_an_erased_profile_takes_no_new_name(privacy_client, person, api):
    erase(privacy_client, person)

    response = api.patch(
        f"/api/v1/customers/{person.public_id}", {"first_name": "Leyla"}, format="json"
    )

    assert response.status_code == 422
    assert response.json()["code"] == "customer_erased"
    assert Customer.objects.get(pk=person.pk).first_name == ""
