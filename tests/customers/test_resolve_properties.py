"""Random sequences of identify / alias / track calls never lose or duplicate anything."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers import services
from customers.errors import DomainError
from customers.models import Customer, Identity, Interaction, MergeRecord, MergeSuggestion

USER_IDS = ["u1", "u2", "u3"]
DEVICES = ["d1", "d2", "d3", "d4"]
EMAILS = ["a@x.com", "b@x.com", "test@test.com"]
PHONES = ["09121111111", "+989122222222", "۰۹۱۲۳۳۳۳۳۳۳"]

maybe = lambda values: st.none() | st.sampled_from(values)  # noqa: E731

identify_call = st.fixed_dictionaries(
    {
        "op": st.just("identify"),
        "user_id": maybe(USER_IDS),
        "anonymous_id": maybe(DEVICES),
        "email": maybe(EMAILS),
        "phone": maybe(PHONES),
        "verified": st.booleans(),
    }
)
alias_call = st.fixed_dictionaries(
    {
        "op": st.just("alias"),
        "previous_id": st.sampled_from(DEVICES),
        "user_id": st.sampled_from(USER_IDS),
    }
)
track_call = st.fixed_dictionaries(
    {"op": st.just("track"), "user_id": maybe(USER_IDS), "anonymous_id": maybe(DEVICES)}
)


def apply(call, tracked):
    ids = {k: call.get(k) for k in ("user_id", "anonymous_id", "email", "phone")}
    try:
        if call["op"] == "alias":
            services.alias(previous_id=call["previous_id"], user_id=call["user_id"])
        elif call["op"] == "identify":
            services.identify(ids, verified={"email", "phone"} if call["verified"] else ())
        else:
            customer = services.resolve(ids)
            interaction, _ = services.record_interaction(
                customer=customer, type="track", channel="web"
            )
            tracked.append(interaction.pk)
    except DomainError as error:
        # Only a call whose every identifier is junk may be refused.
        assert error.code == "no_identifier"  # noqa: PT017


@pytest.mark.django_db
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(calls=st.lists(st.one_of(identify_call, alias_call, track_call), min_size=1, max_size=12))
def test_random_calls_never_lose_an_interaction_or_share_an_identity(calls):
    # Examples share the test's transaction: start each one from an empty table set.
    MergeRecord.objects.all().delete()
    MergeSuggestion.objects.all().delete()
    Interaction.objects.all().delete()
    Identity.objects.all().delete()
    Customer.objects.update(merged_into=None)
    Customer.objects.all().delete()
    tracked = []
    for call in calls:
        apply(call, tracked)

    # Never loses an interaction, and every one is on a live customer.
    assert sorted(Interaction.objects.values_list("pk", flat=True)) == sorted(tracked)
    assert not Interaction.objects.filter(customer__merged_into__isnull=False).exists()
    # No identity on a tombstone, and (kind, value) unique by the database anyway.
    assert not Identity.objects.filter(customer__merged_into__isnull=False).exists()
    # Every tombstone points straight at a live survivor.
    for customer in Customer.objects.filter(merged_into__isnull=False).select_related(
        "merged_into"
    ):
        assert customer.merged_into.merged_into_id is None
    # At most one user_id per customer.
    for customer in Customer.objects.live():
        assert customer.identities.filter(kind="user_id").count() <= 1
    # The same identifiers find the same customer again.
    for user_id in USER_IDS:
        found = services.find_customer({"user_id": user_id})
        if found is not None:
            assert found.merged_into_id is None
