import re

import pytest

from channels import services as outbox
from channels.backends import locmem
from channels.models import Channel
from customers import apikeys, services
from customers.models import ApiKey, Identity
from security.models import AuditEntry, VerificationCode
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def email_channel():
    locmem.reset()
    Channel.objects.create(
        name="Email", kind="email", backend="channels.backends.locmem.LocmemBackend"
    )
    yield
    locmem.reset()


def ask(api, customer, value="me@example.org", kind="email"):
    return api.post(
        "/api/v1/verifications",
        {"customer": str(customer.public_id), "kind": kind, "value": value},
        format="json",
    )


def confirm(api, customer, code, value="me@example.org", kind="email"):
    return api.post(
        "/api/v1/verifications/confirm",
        {"customer": str(customer.public_id), "kind": kind, "value": value, "code": code},
        format="json",
    )


def code_from_inbox(response):
    row = VerificationCode.objects.get(pk=response.json()["id"])
    outbox.deliver(row.message_id)
    return re.search(r"\b(\d{6})\b", locmem.outbox[-1].text).group(1)


def test_request_then_confirm_verifies_the_address(api, source_key):
    customer = CustomerFactory()

    asked = ask(api, customer)

    assert asked.status_code == 202
    assert set(asked.json()) == {"id", "expires_at"}
    code = code_from_inbox(asked)
    assert code not in asked.content.decode()
    confirmed = confirm(api, customer, code)
    assert confirmed.status_code == 200
    assert confirmed.json() == {"verified": True, "customer": str(customer.public_id)}
    assert Identity.objects.get(value="me@example.org").verified
    prefix = ApiKey.objects.get().prefix
    entry = AuditEntry.objects.get(action=AuditEntry.Action.IDENTITY_VERIFIED)
    assert entry.actor_label == f"API key {prefix}…"


def test_the_surviving_customer_is_answered_after_a_merge(api):
    owner = services.resolve({"user_id": "owner-1", "email": "me@example.org"}, verified={"email"})
    device = services.identify({"anonymous_id": "owner-phone"})

    confirmed = confirm(api, device, code_from_inbox(ask(api, device)))

    assert confirmed.status_code == 200
    assert confirmed.json()["customer"] == str(owner.public_id)


def test_the_fourth_request_in_ten_minutes_is_429_with_retry_after(api):
    customer = CustomerFactory()
    for _ in range(3):
        assert ask(api, customer).status_code == 202

    response = ask(api, customer)

    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 601


def test_a_wrong_code_is_400_code_invalid(api):
    customer = CustomerFactory()
    code = code_from_inbox(ask(api, customer))

    response = confirm(api, customer, f"{(int(code) + 1) % 10**6:06d}")

    assert response.status_code == 400
    assert response.json()["code"] == "code_invalid"
    assert not Identity.objects.filter(value="me@example.org").exists()


def test_two_accounts_answer_409_identity_conflict(api):
    services.resolve({"user_id": "owner-1", "email": "me@example.org"}, verified={"email"})
    other = services.resolve({"user_id": "other-1"})

    response = confirm(api, other, code_from_inbox(ask(api, other)))

    assert response.status_code == 409
    assert response.json()["code"] == "identity_conflict"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"kind": "email", "value": "not-an-email"}, 400, "invalid_address"),
        ({"kind": "phone", "value": "12"}, 400, "invalid_address"),
        ({"kind": "fax", "value": "1"}, 400, "invalid"),
        ({"kind": "email"}, 400, "invalid"),
        ({"customer": "not-a-uuid", "kind": "email", "value": "a@b.org"}, 400, "invalid"),
        (
            {
                "customer": "00000000-0000-0000-0000-000000000000",
                "kind": "email",
                "value": "a@b.org",
            },
            404,
            "customer_not_found",
        ),
    ],
)
def test_bad_requests_are_json_errors(api, body, status, code):
    customer = CustomerFactory()
    response = api.post(
        "/api/v1/verifications", {"customer": str(customer.public_id), **body}, format="json"
    )
    assert response.status_code == status
    assert response.json()["code"] == code


def test_confirming_without_a_requested_code_is_code_invalid(api):
    response = confirm(api, CustomerFactory(), "123456")
    assert response.status_code == 400
    assert response.json()["code"] == "code_invalid"


def test_a_read_only_key_may_not_ask_for_codes(api, source_key):
    _, raw = apikeys.create_key(source_key[0], scopes=["read"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    response = ask(api, CustomerFactory())

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
