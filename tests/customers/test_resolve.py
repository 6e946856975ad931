import pytest

from customers import services
from customers.errors import DomainError
from customers.models import Customer, Identity, Interaction, MergeSuggestion
from tests.customers.factories import CustomerFactory, IdentityFactory, SourceFactory

pytestmark = pytest.mark.django_db


def live_customers():
    return Customer.objects.live()


def test_new_identifiers_create_one_customer_with_every_identity():
    customer = services.resolve(
        {
            "user_id": "u-1",
            "anonymous_id": "dev-1",
            "email": " Sara@Example.ORG ",
            "phone": "09123456789",
        }
    )
    assert live_customers().count() == 1
    assert set(customer.identities.values_list("kind", "value")) == {
        ("user_id", "u-1"),
        ("anonymous_id", "dev-1"),
        ("email", "sara@example.org"),
        ("phone", "+989123456789"),
    }


def test_same_identifier_finds_the_same_customer_in_any_digit_form():
    first = services.resolve({"phone": "+989123456789"})
    assert services.resolve({"phone": "۰۹۱۲ ۳۴۵ ۶۷۸۹"}).pk == first.pk
    assert services.resolve({"phone": "00989123456789"}).pk == first.pk


def test_login_merges_anonymous_browsing_into_the_account():
    account = services.resolve({"user_id": "u-7", "email": "a@shop.ir"})
    device = services.resolve({"anonymous_id": "phone-abc"})
    services.record_interaction(customer=device, type="page", channel="web", name="Home")
    customer = services.resolve({"user_id": "u-7", "anonymous_id": "phone-abc"})
    assert customer.pk == account.pk  # the oldest survives
    assert live_customers().count() == 1
    assert Interaction.objects.get().customer_id == account.pk
    assert Customer.objects.get(pk=device.pk).merged_into_id == account.pk


def test_untrusted_email_match_from_a_device_suggests_instead_of_merging():
    owner = services.resolve({"user_id": "owner", "email": "owner@mail.com"})
    stranger = services.resolve({"anonymous_id": "stranger-device", "email": "owner@mail.com"})
    assert stranger.pk != owner.pk
    assert not stranger.identities.filter(kind="email").exists()
    suggestion = MergeSuggestion.objects.get()
    assert {suggestion.customer_id, suggestion.other_id} == {owner.pk, stranger.pk}
    assert suggestion.identity_value == "owner@mail.com"


def test_verified_email_merges_two_profiles_automatically():
    first = services.resolve({"anonymous_id": "web-1", "email": "x@y.com"})
    second = services.resolve({"anonymous_id": "app-1"})
    merged = services.resolve({"anonymous_id": "app-1", "email": "x@y.com"}, verified={"email"})
    assert merged.pk == first.pk
    assert Customer.objects.get(pk=second.pk).merged_into_id == first.pk


def test_email_from_a_trusted_source_merges_two_profiles():
    call_center = SourceFactory(name="call center", kind="call_center", trusted=True)
    web = services.resolve({"anonymous_id": "web-9", "email": "m@n.com"})
    services.resolve({"anonymous_id": "app-9"})
    merged = services.resolve({"anonymous_id": "app-9", "email": "m@n.com"}, source=call_center)
    assert merged.pk == web.pk
    assert live_customers().count() == 1


def test_a_customer_never_gets_two_user_ids():
    alice = services.resolve({"user_id": "alice", "anonymous_id": "shared-tablet"})
    bob = services.resolve({"user_id": "bob", "anonymous_id": "shared-tablet"})
    assert alice.pk != bob.pk
    assert Identity.objects.filter(customer=alice, kind="user_id").count() == 1
    assert Identity.objects.filter(customer=bob, kind="user_id").count() == 1
    assert not MergeSuggestion.objects.exists()


def test_two_accounts_are_never_merged_even_by_a_verified_email():
    alice = services.resolve({"user_id": "alice", "email": "family@home.ir"})
    bob = services.resolve({"user_id": "bob", "email": "family@home.ir"}, verified={"email"})
    assert alice.pk != bob.pk
    assert live_customers().count() == 2


@pytest.mark.parametrize(
    "junk",
    [
        {"email": "test@test.com"},
        {"phone": "0000000000"},
        {"user_id": "null"},
        {"anonymous_id": "undefined"},
        {"email": "TEST@test.com "},
    ],
)
def test_junk_values_never_identify_or_merge_anyone(junk):
    services.resolve({"user_id": "one", **{k: v for k, v in junk.items() if k != "user_id"}})
    services.resolve({"user_id": "two", **{k: v for k, v in junk.items() if k != "user_id"}})
    assert live_customers().count() == 2
    assert not Identity.objects.filter(value__in=["test@test.com", "null", "undefined"]).exists()
    assert not MergeSuggestion.objects.exists()


def test_only_junk_is_rejected_with_a_clear_error():
    with pytest.raises(DomainError) as error:
        services.resolve({"email": "null", "phone": "not a phone"})
    assert error.value.code == "no_identifier"


def test_unparseable_phone_is_no_identity():
    customer = services.resolve({"user_id": "p1", "phone": "call me maybe"})
    assert not customer.identities.filter(kind="phone").exists()


def test_identity_limit_per_kind_is_enforced(settings):
    settings.IDENTITY_LIMITS = {**settings.IDENTITY_LIMITS, "anonymous_id": 2}
    customer = services.resolve({"user_id": "many-devices", "anonymous_id": "d1"})
    services.resolve({"user_id": "many-devices", "anonymous_id": "d2"})
    services.resolve({"user_id": "many-devices", "anonymous_id": "d3"})
    assert customer.identities.filter(kind="anonymous_id").count() == 2


def test_alias_links_a_device_to_an_account():
    device = services.resolve({"anonymous_id": "cookie-1"})
    account = services.resolve({"user_id": "acc-1"})
    survivor = services.alias(previous_id="cookie-1", user_id="acc-1")
    assert survivor.pk == min(device.pk, account.pk)
    assert live_customers().count() == 1


def test_rejected_suggestion_is_not_opened_again():
    services.resolve({"user_id": "owner", "email": "o@o.org"})
    services.resolve({"anonymous_id": "dev", "email": "o@o.org"})
    services.reject_suggestion(MergeSuggestion.objects.get())
    services.resolve({"anonymous_id": "dev", "email": "o@o.org"})
    assert MergeSuggestion.objects.filter(status="open").count() == 0


def test_identify_applies_names_locale_and_custom_traits():
    customer = services.identify(
        {"user_id": "t1"},
        traits={"firstName": "مریم", "lastName": "رضایی", "locale": "fa-IR", "plan": "gold"},
    )
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name, customer.locale) == ("مریم", "رضایی", "fa")
    assert customer.traits == {"plan": "gold"}


def test_find_customer_follows_a_tombstone_identity_to_the_survivor():
    survivor = CustomerFactory()
    duplicate = CustomerFactory()
    IdentityFactory(customer=duplicate, kind="email", value="old@mail.com")
    services.merge(survivor=survivor, duplicate=duplicate)
    assert services.find_customer({"email": "OLD@mail.com"}).pk == survivor.pk
