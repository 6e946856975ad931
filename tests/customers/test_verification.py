import datetime as dt
import re

import pytest
import time_machine
from django.utils import timezone

from channels import services as outbox
from channels import verification
from channels.backends import locmem
from channels.models import Channel, Message
from customers import services
from customers.consents import set_consent
from customers.models import Customer, Identity, Interaction, MergeSuggestion
from security.models import AuditEntry, VerificationCode
from tests.customers.factories import CustomerFactory, IdentityFactory, InteractionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def channels():
    locmem.reset()
    for kind in ("email", "sms"):
        Channel.objects.create(
            name=kind, kind=kind, backend="channels.backends.locmem.LocmemBackend"
        )
    yield
    locmem.reset()


def delivered(row):
    """Deliver the code's message as the worker would; what reached the address."""
    assert outbox.deliver(row.message_id) == "sent"
    return locmem.outbox[-1]


def code_in(sent):
    return re.search(r"\b(\d{6})\b", sent.text).group(1)


def wrong(code):
    return f"{(int(code) + 1) % 10**6:06d}"


def owner_with_history():
    owner = services.resolve(
        {"user_id": "owner-1", "email": "owner@example.org"}, verified={"email"}
    )
    InteractionFactory.create_batch(3, customer=owner, name="Order Completed")
    return owner


def test_the_code_goes_only_to_the_address_asked_for_and_confirming_verifies_it():
    customer = CustomerFactory()
    IdentityFactory(customer=customer, kind="email", value="old@example.org", verified=True)
    IdentityFactory(customer=customer, kind="phone", value="+989121111111", verified=True)

    row = verification.request_code(
        customer, "email", " New@Example.ORG ", requested_by="API key ab12…"
    )
    sent = delivered(row)

    assert len(locmem.outbox) == 1
    assert sent.to == "new@example.org"
    assert sent.purpose == "transactional"
    assert row.expires_at == row.created_at + dt.timedelta(minutes=10)
    survivor = verification.confirm_code(
        customer, "email", "new@example.org", code_in(sent), requested_by="API key ab12…"
    )
    assert survivor == customer
    assert Identity.objects.get(kind="email", value="new@example.org").customer == customer
    assert Identity.objects.get(kind="email", value="new@example.org").verified
    entry = AuditEntry.objects.get(action=AuditEntry.Action.IDENTITY_VERIFIED)
    assert entry.actor_label == "API key ab12…"
    assert entry.target_id == str(customer.pk)


def test_the_code_is_stored_nowhere_a_person_or_the_api_can_read_it():
    customer = CustomerFactory()
    row = verification.request_code(customer, "phone", "09121234567")
    sent = delivered(row)
    code = code_in(sent)

    row.refresh_from_db()
    assert code not in row.code_hash
    timeline = Interaction.objects.values_list("summary", "properties")
    assert not any(code in f"{summary} {properties}" for summary, properties in timeline)
    verification.confirm_code(customer, "phone", "+989121234567", code)
    assert code not in Message.objects.get(pk=row.message_id).text


def test_an_existing_unverified_address_of_the_customer_becomes_verified():
    customer = CustomerFactory()
    IdentityFactory(customer=customer, kind="email", value="me@example.org", verified=False)
    code = code_in(delivered(verification.request_code(customer, "email", "me@example.org")))

    verification.confirm_code(customer, "email", "me@example.org", code)

    assert Identity.objects.get(value="me@example.org").verified
    assert Identity.objects.filter(value="me@example.org").count() == 1


def test_persian_digits_in_the_phone_and_in_the_code_are_understood():
    customer = CustomerFactory()
    sent = delivered(verification.request_code(customer, "phone", "۰۹۱۲ ۱۲۳ ۴۵۶۷"))
    assert sent.to == "+989121234567"
    persian = code_in(sent).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))

    verification.confirm_code(customer, "phone", "+98 912 123 4567", persian)

    assert Identity.objects.get(kind="phone").verified


@pytest.mark.parametrize(
    ("kind", "value"), [("email", "not an email"), ("phone", "12"), ("fax", "1")]
)
def test_an_unusable_address_is_refused(kind, value):
    with pytest.raises(verification.InvalidAddress) as error:
        verification.request_code(CustomerFactory(), kind, value)
    assert error.value.code == "invalid_address"
    assert not VerificationCode.objects.exists()


def test_a_wrong_code_is_refused_and_counted():
    customer = CustomerFactory()
    code = code_in(delivered(verification.request_code(customer, "email", "me@example.org")))

    with pytest.raises(verification.CodeInvalid):
        verification.confirm_code(customer, "email", "me@example.org", wrong(code))

    assert VerificationCode.objects.get().attempts == 1
    assert not Identity.objects.filter(value="me@example.org").exists()
    verification.confirm_code(customer, "email", "me@example.org", code)
    assert Identity.objects.get(value="me@example.org").verified


def test_five_wrong_codes_kill_the_code_even_for_the_right_one():
    customer = CustomerFactory()
    code = code_in(delivered(verification.request_code(customer, "email", "me@example.org")))
    for _ in range(4):
        with pytest.raises(verification.CodeInvalid):
            verification.confirm_code(customer, "email", "me@example.org", wrong(code))
    with pytest.raises(verification.TooManyAttempts):
        verification.confirm_code(customer, "email", "me@example.org", wrong(code))

    with pytest.raises(verification.TooManyAttempts) as error:
        verification.confirm_code(customer, "email", "me@example.org", code)

    assert error.value.code == "too_many_attempts"
    assert not Identity.objects.filter(value="me@example.org").exists()
    assert code not in Message.objects.get().text


def test_a_code_expires_after_ten_minutes():
    customer = CustomerFactory()
    code = code_in(delivered(verification.request_code(customer, "email", "me@example.org")))

    with time_machine.travel(timezone.now() + dt.timedelta(minutes=10, seconds=1), tick=False):
        with pytest.raises(verification.CodeExpired) as error:
            verification.confirm_code(customer, "email", "me@example.org", code)

    assert error.value.code == "code_expired"
    assert not Identity.objects.filter(value="me@example.org").exists()


def test_a_used_code_cannot_be_used_again():
    customer = CustomerFactory()
    code = code_in(delivered(verification.request_code(customer, "email", "me@example.org")))
    verification.confirm_code(customer, "email", "me@example.org", code)

    with pytest.raises(verification.CodeInvalid):
        verification.confirm_code(customer, "email", "me@example.org", code)


def test_only_the_newest_code_counts():
    customer = CustomerFactory()
    first = code_in(delivered(verification.request_code(customer, "email", "me@example.org")))
    second = code_in(delivered(verification.request_code(customer, "email", "me@example.org")))
    if first == second:
        pytest.skip("the two random codes happen to be equal")

    with pytest.raises(verification.CodeInvalid):
        verification.confirm_code(customer, "email", "me@example.org", first)
    verification.confirm_code(customer, "email", "me@example.org", second)


def test_three_codes_per_address_in_ten_minutes_then_retry_after():
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(3):
            verification.request_code(CustomerFactory(), "email", "busy@example.org")
        with pytest.raises(verification.RateLimited) as error:
            verification.request_code(CustomerFactory(), "email", "busy@example.org")
    assert error.value.code == "rate_limited"
    assert error.value.status == 429
    assert 590 <= error.value.retry_after <= 601
    with time_machine.travel(start + dt.timedelta(minutes=10, seconds=1), tick=False):
        verification.request_code(CustomerFactory(), "email", "busy@example.org")


def test_three_codes_per_customer_in_ten_minutes_whatever_the_address():
    customer = CustomerFactory()
    for n in range(3):
        verification.request_code(customer, "email", f"me{n}@example.org")

    with pytest.raises(verification.RateLimited):
        verification.request_code(customer, "phone", "09121234567")

    assert VerificationCode.objects.count() == 3
    assert len(Message.objects.all()) == 3


def test_ten_codes_per_address_a_day():
    start = timezone.now()
    for n in range(10):
        with time_machine.travel(start + dt.timedelta(minutes=4 * n), tick=False):
            verification.request_code(CustomerFactory(), "email", "busy@example.org")
    with time_machine.travel(start + dt.timedelta(minutes=40), tick=False):
        with pytest.raises(verification.RateLimited) as error:
            verification.request_code(CustomerFactory(), "email", "busy@example.org")
    assert error.value.retry_after > 23 * 3600


def test_without_a_channel_no_code_is_made():
    Channel.objects.filter(kind="sms").update(active=False)

    with pytest.raises(verification.Unreachable):
        verification.request_code(CustomerFactory(), "phone", "09121234567")

    assert not VerificationCode.objects.exists()
    assert not Message.objects.exists()


def test_a_bounced_address_gets_no_code():
    owner = CustomerFactory()
    IdentityFactory(
        customer=owner, kind="email", value="gone@example.org", bounced_at=timezone.now()
    )
    with pytest.raises(verification.Unreachable):
        verification.request_code(CustomerFactory(), "email", "gone@example.org")


def test_someone_elses_email_typed_into_a_form_does_not_attach_their_history():
    owner = owner_with_history()

    visitor = services.identify({"anonymous_id": "visitor-device", "email": "owner@example.org"})

    assert visitor != owner
    assert not Interaction.objects.filter(customer=visitor, name="Order Completed").exists()
    assert Identity.objects.get(kind="email").customer == owner
    assert MergeSuggestion.objects.filter(status="open").count() <= 1

    # Asking for a code sends it to the owner's mailbox, on the owner's own record.
    row = verification.request_code(visitor, "email", "owner@example.org")
    sent = delivered(row)
    assert sent.to == "owner@example.org"
    assert Message.objects.get(pk=row.message_id).customer == owner
    assert [m.to for m in locmem.outbox] == ["owner@example.org"]

    # Without the code, guessing gets nowhere and nothing attaches.
    for guess in ("000000", "123456", "999999"):
        if guess != code_in(sent):
            with pytest.raises(verification.CodeInvalid):
                verification.confirm_code(visitor, "email", "owner@example.org", guess)
    visitor.refresh_from_db()
    assert visitor.merged_into is None
    assert Identity.objects.get(kind="email").customer == owner
    assert services.resolve({"anonymous_id": "visitor-device"}) == visitor
    assert not Interaction.objects.filter(customer=visitor, name="Order Completed").exists()


def test_a_code_only_works_for_the_profile_that_asked_for_it():
    owner = owner_with_history()
    visitor = services.identify({"anonymous_id": "visitor-device", "email": "owner@example.org"})
    own_device = services.identify({"anonymous_id": "owner-phone"})
    verification.request_code(visitor, "email", "owner@example.org")
    code = code_in(delivered(verification.request_code(own_device, "email", "owner@example.org")))

    # The owner's code, even seen over their shoulder, does not open the visitor's request.
    with pytest.raises(verification.CodeInvalid):
        verification.confirm_code(visitor, "email", "owner@example.org", code)

    assert services.live(visitor, refresh=True) == visitor
    assert owner.identities.filter(kind="email").exists()


def test_with_the_code_from_the_owners_mailbox_their_own_device_joins_their_history():
    owner = owner_with_history()
    device = services.identify({"anonymous_id": "owner-phone"})
    code = code_in(delivered(verification.request_code(device, "email", "Owner@Example.org")))

    survivor = verification.confirm_code(device, "email", "owner@example.org", code)

    assert survivor == owner  # the oldest profile survives
    device.refresh_from_db()
    assert device.merged_into == owner
    assert services.resolve({"anonymous_id": "owner-phone"}) == owner
    assert Interaction.objects.filter(customer=owner, name="Order Completed").count() == 3
    entry = AuditEntry.objects.get(action=AuditEntry.Action.IDENTITY_VERIFIED)
    assert entry.details["merged"] == str(device.public_id)


def test_two_accounts_are_never_merged_by_a_code():
    owner_with_history()
    other_account = services.resolve({"user_id": "someone-else"})
    code = code_in(
        delivered(verification.request_code(other_account, "email", "owner@example.org"))
    )

    with pytest.raises(verification.IdentityConflict) as error:
        verification.confirm_code(other_account, "email", "owner@example.org", code)

    assert error.value.code == "identity_conflict"
    assert error.value.status == 409
    assert Customer.objects.live().count() == 2
    assert Identity.objects.get(kind="email").customer.identities.filter(value="owner-1").exists()
    assert VerificationCode.objects.get().consumed_at is not None


def test_an_address_someone_only_typed_moves_to_who_proves_it_without_a_merge():
    squatter = services.identify({"anonymous_id": "squatter-device", "email": "new@example.org"})
    InteractionFactory(customer=squatter, name="Product Viewed")
    real_owner = services.identify({"anonymous_id": "owner-device"})
    code = code_in(delivered(verification.request_code(real_owner, "email", "new@example.org")))

    survivor = verification.confirm_code(real_owner, "email", "new@example.org", code)

    assert survivor == real_owner
    identity = Identity.objects.get(kind="email")
    assert (identity.customer, identity.verified) == (real_owner, True)
    # The squatter's device stays on its own profile and sees none of the owner's history.
    assert services.resolve({"anonymous_id": "squatter-device"}) == squatter
    assert Customer.objects.live().count() == 2
    assert MergeSuggestion.objects.filter(status="open").count() == 1


def test_the_sweep_blanks_expired_codes_and_deletes_them_after_a_day():
    customer = CustomerFactory()
    old = verification.request_code(customer, "email", "me@example.org")
    code = code_in(delivered(old))
    later = timezone.now() + dt.timedelta(hours=2)
    with time_machine.travel(later, tick=False):
        fresh = verification.request_code(customer, "email", "me@example.org")
        assert verification.sweep() == 0
    assert code not in Message.objects.get(pk=old.message_id).text
    assert Message.objects.get(pk=fresh.message_id).text != verification.REDACTED

    with time_machine.travel(later + dt.timedelta(hours=23), tick=False):
        assert verification.sweep() == 1

    assert list(VerificationCode.objects.all()) == [fresh]


def test_a_login_merge_takes_pending_codes_along():
    account = services.resolve({"user_id": "acct-1"})
    device = services.identify({"anonymous_id": "dev-1"})
    code = code_in(delivered(verification.request_code(device, "email", "me@example.org")))
    services.alias(previous_id="dev-1", user_id="acct-1")
    assert services.live(device, refresh=True) == account

    survivor = verification.confirm_code(account, "email", "me@example.org", code)

    assert survivor == account
    assert Identity.objects.get(kind="email").customer == account


def test_the_code_message_respects_an_opt_out_of_transactional_messages():
    owner = CustomerFactory()
    IdentityFactory(customer=owner, kind="email", value="quiet@example.org")
    set_consent(owner, channel="email", purpose="transactional", status="withdrawn")

    with pytest.raises(verification.Unreachable):
        verification.request_code(CustomerFactory(), "email", "quiet@example.org")


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_for_one_address_cannot_pass_the_limit(postgres_only):
    from tests.customers.concurrency import run_together

    people = [CustomerFactory() for _ in range(6)]

    errors = run_together(
        *[lambda c=c: verification.request_code(c, "email", "target@example.org") for c in people]
    )

    assert VerificationCode.objects.filter(value="target@example.org").count() == 3
    assert len(errors) == 3
    assert all(isinstance(e, verification.RateLimited) for e in errors)


@pytest.mark.django_db(transaction=True)
def test_concurrent_guesses_get_five_tries_at_most(postgres_only):
    from tests.customers.concurrency import run_together

    customer = CustomerFactory()
    verification.request_code(customer, "email", "me@example.org")
    guesses = [f"{n:06d}" for n in range(8)]

    errors = run_together(
        *[
            lambda g=g: verification.confirm_code(customer, "email", "me@example.org", g)
            for g in guesses
        ]
    )

    row = VerificationCode.objects.get()
    assert row.attempts <= 5
    assert row.consumed_at is not None or row.attempts == 5
    assert len(errors) >= 7
