import pytest

from customers import apikeys, services
from customers.models import Consent
from tests.customers.factories import CustomerFactory, IdentityFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "query",
    [
        {"phone": "۰۹۱۲ ۳۴۵ ۶۷۸۹"},
        {"phone": "+989123456789"},
        {"phone": "0098 912 345 6789"},
        {"email": " Nima@Example.COM"},
        {"user_id": "nima-1"},
    ],
)
def test_lookup_by_any_identifier_in_any_form(api, query):
    customer = services.resolve(
        {"user_id": "nima-1", "email": "nima@example.com", "phone": "09123456789"}
    )
    response = api.get("/api/v1/customers", query)
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["results"]] == [str(customer.public_id)]


def test_lookup_of_an_unknown_identifier_is_an_empty_list(api):
    response = api.get("/api/v1/customers", {"email": "nobody@nowhere.org"})
    assert response.json()["results"] == []


def test_a_merged_customers_old_id_answers_with_the_survivor(api):
    survivor, duplicate = CustomerFactory(), CustomerFactory()
    services.merge(survivor=survivor, duplicate=duplicate)
    response = api.get(f"/api/v1/customers/{duplicate.public_id}")
    assert response.json()["id"] == str(survivor.public_id)


def test_update_traits_merges_custom_traits(api):
    customer = CustomerFactory(traits={"size": "M"})
    response = api.patch(
        f"/api/v1/customers/{customer.public_id}",
        {"first_name": "Aysel", "locale": "az", "traits": {"vip": True}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    customer.refresh_from_db()
    assert (customer.first_name, customer.locale, customer.traits) == (
        "Aysel",
        "az",
        {"size": "M", "vip": True},
    )


def test_invalid_update_is_400_with_field_errors(api):
    customer = CustomerFactory()
    response = api.patch(
        f"/api/v1/customers/{customer.public_id}", {"time_zone": "Mars/Base"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "time_zone" in response.json()["errors"]


def test_timeline_pages_by_cursor_and_filters_by_channel(api, django_assert_max_num_queries):
    customer = CustomerFactory(interactions=120)
    seen = []
    url = f"/api/v1/customers/{customer.public_id}/timeline"
    params = {}
    while True:
        with django_assert_max_num_queries(6):
            body = api.get(url, params).json()
        seen += [row["id"] for row in body["results"]]
        if not body["next"]:
            break
        params = {"cursor": body["next"]}
    assert len(seen) == len(set(seen)) == 120
    sms = api.get(url, {"channel": "sms"}).json()["results"]
    assert sms
    assert {row["channel"] for row in sms} == {"sms"}


def test_customer_list_query_count_does_not_grow(api, django_assert_max_num_queries):
    for customer in CustomerFactory.create_batch(30):
        IdentityFactory(customer=customer)
    with django_assert_max_num_queries(6):
        response = api.get("/api/v1/customers")
    assert len(response.json()["results"]) == 30


def test_a_bad_cursor_is_400(api):
    customer = CustomerFactory()
    response = api.get(f"/api/v1/customers/{customer.public_id}/timeline", {"cursor": "zzz"})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_cursor")


def test_read_key_cannot_write(client, source_key):
    _, key = apikeys.create_key(source_key[0], scopes=["read"])
    customer = CustomerFactory()
    response = client.patch(
        f"/api/v1/customers/{customer.public_id}",
        {"first_name": "x"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 403


def test_consent_is_recorded_per_address_with_proof_and_on_the_timeline(api):
    customer = services.resolve({"email": "c@d.org", "phone": "09120000001"})
    response = api.post(
        "/api/v1/consents",
        {
            "customer": {"phone": "۰۹۱۲۰۰۰۰۰۰۱"},
            "channel": "sms",
            "purpose": "marketing",
            "status": "granted",
            "wording": "Send me offers by SMS",
            "proof": {"ip": "203.0.113.9", "form": "checkout"},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    consent = Consent.objects.get()
    assert (consent.identity.value, consent.status, consent.proof["form"]) == (
        "+989120000001",
        "granted",
        "checkout",
    )
    assert customer.interactions.filter(name="Consent Changed").exists()


def test_consent_for_an_address_the_customer_lacks_is_422(api):
    services.resolve({"email": "only@mail.org"})
    response = api.post(
        "/api/v1/consents",
        {
            "customer": {"email": "only@mail.org"},
            "channel": "sms",
            "purpose": "marketing",
            "status": "granted",
        },
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (422, "no_address")


def test_consent_for_an_unknown_customer_is_404(api):
    response = api.post(
        "/api/v1/consents",
        {
            "customer": {"email": "ghost@mail.org"},
            "channel": "email",
            "purpose": "marketing",
            "status": "granted",
        },
        format="json",
    )
    assert response.status_code == 404


def test_timeline_of_an_unknown_customer_is_404_json(api):
    response = api.get("/api/v1/customers/not-a-uuid/timeline")
    assert (response.status_code, response.json()["code"]) == (404, "customer_not_found")


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/customers/x/y/z", "/ingest/v2/track"])
def test_an_unknown_api_path_is_a_json_404(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_api_docs_page_serves_its_assets_itself(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert b"cdn.jsdelivr" not in page.content
    assert b"/static/drf_spectacular_sidecar/" in page.content
