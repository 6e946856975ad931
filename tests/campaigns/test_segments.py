"""The segment compiler: each rule kind by hand, then whole random trees against a plain-Python
reference over a generated population (both databases: CI runs the suite on each)."""

import datetime as dt
import random
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns import segments
from campaigns.models import Segment, SegmentMember
from commerce.models import Cart, CartLine
from customers.models import Customer
from tests.campaigns.reference import Person, matches
from tests.customers.factories import (
    ConsentFactory,
    CustomerFactory,
    IdentityFactory,
    InteractionFactory,
)

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)

NAMES = ["Sara", "Ali", "", "سارا", "Reza"]
LOCALES = ["", "fa", "en", "ar", "az"]
ZONES = ["", "Asia/Tehran", "Asia/Baku"]
TRAITS = {"plan": ["gold", "silver", 3], "city": ["Tehran", "Baku"], "vip": [1, 0]}
EVENTS = ["Product Viewed", "Order Completed", "Cart Viewed"]
SKUS = ["A", "B", 7]
KINDS = ["email", "phone", "user_id"]
CONSENTS = [None, "granted", "withdrawn", "pending"]


def populate(seed: int, size: int = 60):
    """Customers in every shape the rules tell apart, as rows and as reference records."""
    rnd = random.Random(seed)
    people = []
    for n in range(size):
        traits = {k: rnd.choice(v) for k, v in TRAITS.items() if rnd.random() < 0.5}
        customer = CustomerFactory(
            first_name=rnd.choice(NAMES),
            last_name=rnd.choice(NAMES),
            locale=rnd.choice(LOCALES),
            time_zone=rnd.choice(ZONES),
            stage=rnd.choice(Customer.Stage.values),
            traits=traits,
            last_seen_at=NOW - dt.timedelta(days=rnd.randint(0, 60), hours=rnd.randint(0, 23)),
            order_count=rnd.randint(0, 4),
            total_spent=rnd.choice(
                [Decimal(0), Decimal("10.50"), Decimal("120000"), Decimal("999.99")]
            ),
        )
        person = Person(
            pk=customer.pk,
            first_name=customer.first_name,
            last_name=customer.last_name,
            locale=customer.locale,
            time_zone=customer.time_zone,
            stage=customer.stage,
            traits=traits,
            last_seen_at=customer.last_seen_at,
            order_count=customer.order_count,
            total_spent=customer.total_spent,
        )
        for kind in KINDS:
            if rnd.random() < 0.6:
                bounced = kind == "email" and rnd.random() < 0.2
                identity = IdentityFactory(
                    customer=customer,
                    kind=kind,
                    value=f"{kind}-{seed}-{n}",
                    bounced_at=NOW if bounced else None,
                )
                status = rnd.choice(CONSENTS)
                if status:
                    ConsentFactory(customer=customer, identity=identity, status=status)
                person.identities.append((kind, bounced, status))
        person.wide_consent = rnd.choice(CONSENTS)
        if person.wide_consent:
            ConsentFactory(customer=customer, identity=None, status=person.wide_consent)
        for _ in range(rnd.randint(0, 4)):
            name, at = rnd.choice(EVENTS), NOW - dt.timedelta(days=rnd.randint(0, 20), hours=1)
            props = {"sku": rnd.choice(SKUS)} if rnd.random() < 0.8 else {}
            InteractionFactory(customer=customer, name=name, occurred_at=at, properties=props)
            person.events.append((name, at, props))
        if rnd.random() < 0.7:
            status = rnd.choice(["active", "active", "converted"])
            changed = NOW - dt.timedelta(hours=rnd.randint(0, 72))
            cart = Cart.objects.create(customer=customer, status=status, changed_at=changed)
            lines = rnd.choice([0, 1, 2]) if status == "active" else 1
            for k in range(lines):
                CartLine.objects.create(cart=cart, sku=f"S{k}", quantity=1, channel="web")
            person.carts.append((status, lines, changed))
        people.append(person)
    # Tombstones are nobody's audience, whatever they match.
    for victim in rnd.sample(people, 3):
        Customer.objects.filter(pk=victim.pk).update(merged_into=people[0].pk)
        people.remove(victim)
    listed = Segment.objects.create(name=f"list-{seed}", kind=Segment.Kind.STATIC)
    for person in rnd.sample(people, 15):
        SegmentMember.objects.create(segment=listed, customer_id=person.pk)
        person.lists.add(listed.pk)
    buyers = Segment.objects.create(
        name=f"buyers-{seed}", rules={"all": [{"field": "order_count", "op": "gte", "value": 1}]}
    )
    known = {
        listed.pk: {"static": True},
        buyers.pk: {"static": False, "rules": buyers.rules},
    }
    return people, known


def expected(tree, people, known):
    return sorted(p.pk for p in people if matches(tree, p, NOW, known))


def actual(tree):
    segment = Segment(name="probe", rules=tree)
    return sorted(segments.members(segment, now=NOW).values_list("pk", flat=True))


# --- Each rule kind ---------------------------------------------------------------------------

ONE_OF_EACH = [
    {"field": "first_name", "op": "eq", "value": "Sara"},
    {"field": "first_name", "op": "ne", "value": "Sara"},
    {"field": "last_name", "op": "contains", "value": "re"},
    {"field": "locale", "op": "in", "value": ["fa", "ar"]},
    {"field": "time_zone", "op": "is_set"},
    {"field": "time_zone", "op": "not_set"},
    {"field": "stage", "op": "in", "value": ["purchase", "retention"]},
    {"field": "stage", "op": "not_in", "value": ["awareness"]},
    {"field": "trait", "key": "plan", "op": "eq", "value": "gold"},
    {"field": "trait", "key": "plan", "op": "eq", "value": 3},
    {"field": "trait", "key": "plan", "op": "ne", "value": "gold"},
    {"field": "trait", "key": "city", "op": "in", "value": ["Baku", "Paris"]},
    {"field": "trait", "key": "vip", "op": "is_set"},
    {"field": "trait", "key": "vip", "op": "not_set"},
    {"field": "identity", "kind": "phone", "op": "present"},
    {"field": "identity", "kind": "user_id", "op": "absent"},
    {"field": "consent", "channel": "email", "op": "granted"},
    {"field": "consent", "channel": "sms", "op": "not_granted"},
    {"field": "last_seen", "op": "within_days", "value": 14},
    {"field": "last_seen", "op": "not_within_days", "value": 30},
    {"field": "order_count", "op": "gte", "value": 2},
    {"field": "order_count", "op": "eq", "value": 0},
    {"field": "total_spent", "op": "gt", "value": "999.99"},
    {"field": "total_spent", "op": "lte", "value": 10.5},
    {"field": "event", "name": "Product Viewed", "op": "at_least", "count": 1, "days": 7},
    {"field": "event", "name": "Product Viewed", "op": "at_least", "count": 2, "days": 20},
    {"field": "event", "name": "Product Viewed", "properties": {"sku": "A"}, "op": "at_least",
     "count": 1, "days": 20},
    {"field": "event", "name": "Order Completed", "properties": {"sku": 7}, "op": "fewer_than",
     "count": 1, "days": 10},
    {"field": "cart", "op": "has_items"},
    {"field": "cart", "op": "empty"},
    {"field": "cart", "op": "idle_hours", "value": 24},
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("rule", ONE_OF_EACH, ids=lambda rule: f"{rule['field']}-{rule['op']}")
def test_each_rule_kind_matches_the_reference(rule):
    people, known = populate(seed=7)
    want = expected(rule, people, known)
    assert actual(rule) == want
    assert 0 < len(want) < len(people) or rule["op"] in ("fewer_than", "not_set")


@pytest.mark.django_db
def test_segments_nest_and_refer_to_each_other():
    people, known = populate(seed=11)
    listed, buyers = (Segment.objects.get(name=f"{kind}-11") for kind in ("list", "buyers"))
    tree = {
        "any": [
            {"all": [{"field": "segment", "op": "in", "value": listed.pk},
                     {"field": "consent", "channel": "email", "op": "granted"}]},
            {"all": [{"field": "segment", "op": "in", "value": buyers.pk},
                     {"any": [{"field": "cart", "op": "has_items"},
                              {"field": "stage", "op": "in", "value": ["advocacy"]}]}]},
        ]
    }  # fmt: skip
    assert actual(tree) == expected(tree, people, known)
    assert actual({"all": []}) == sorted(p.pk for p in people)
    assert actual({"any": []}) == []


# --- Random trees against the reference -------------------------------------------------------


def leaves(segment_ids):
    text = st.sampled_from(["first_name", "last_name", "locale", "time_zone"])
    return st.one_of(
        st.builds(lambda f, v: {"field": f, "op": "eq", "value": v},
                  text, st.sampled_from(NAMES[:2] + LOCALES[1:3])),
        st.builds(lambda f: {"field": f, "op": "is_set"}, text),
        st.builds(lambda v: {"field": "stage", "op": "in", "value": v},
                  st.lists(st.sampled_from(Customer.Stage.values), min_size=1, max_size=3,
                           unique=True)),
        st.builds(lambda k, v, op: {"field": "trait", "key": k, "op": op, "value": v},
                  st.sampled_from(list(TRAITS)), st.sampled_from(["gold", 3, "Baku", 1, 0]),
                  st.sampled_from(["eq", "ne"])),
        st.builds(lambda k, op: {"field": "identity", "kind": k, "op": op},
                  st.sampled_from(KINDS), st.sampled_from(["present", "absent"])),
        st.builds(lambda c, op: {"field": "consent", "channel": c, "op": op},
                  st.sampled_from(["email", "sms"]), st.sampled_from(["granted", "not_granted"])),
        st.builds(lambda d, op: {"field": "last_seen", "op": op, "value": d},
                  st.integers(1, 60), st.sampled_from(["within_days", "not_within_days"])),
        st.builds(lambda f, op, v: {"field": f, "op": op, "value": v},
                  st.sampled_from(["order_count", "total_spent"]),
                  st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]),
                  st.sampled_from([0, 1, 2, "10.50", 999.99])),
        st.builds(lambda name, props, op, count, days: {
                      "field": "event", "name": name, "properties": props, "op": op,
                      "count": count, "days": days},
                  st.sampled_from(EVENTS), st.sampled_from([{}, {"sku": "A"}, {"sku": 7}]),
                  st.sampled_from(["at_least", "fewer_than"]), st.integers(1, 3),
                  st.integers(1, 21)),
        st.builds(lambda op, hours: {"field": "cart", "op": op, "value": hours},
                  st.sampled_from(["has_items", "empty", "idle_hours"]), st.integers(1, 72)),
        st.builds(lambda pk, op: {"field": "segment", "op": op, "value": pk},
                  st.sampled_from(segment_ids), st.sampled_from(["in", "not_in"])),
    )  # fmt: skip


def trees(segment_ids):
    return st.recursive(
        leaves(segment_ids),
        lambda children: st.one_of(
            st.builds(lambda c: {"all": c}, st.lists(children, max_size=3)),
            st.builds(lambda c: {"any": c}, st.lists(children, max_size=3)),
        ),
        max_leaves=6,
    )


class Population(tuple):
    def __repr__(self):  # hypothesis prints the arguments of a failing example
        return f"<population of {len(self[0])}>"


@pytest.fixture
def population(db):
    return Population(populate(seed=2026, size=70))


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_trees_count_what_the_reference_counts(population, data):
    people, known = population
    tree = data.draw(trees(sorted(known)), label="tree")
    want = expected(tree, people, known)
    assert actual(tree) == want
    assert segments.count(Segment(name="probe", rules=tree), now=NOW) == len(want)


# --- Validation -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_bad_tree_is_refused_with_every_problem_named():
    errors = segments.validate(
        {"all": [
            {"field": "shoe_size", "op": "eq", "value": 44},
            {"field": "stage", "op": "in", "value": ["vip"]},
            {"any": [{"field": "event", "name": "", "op": "at_least", "count": 0, "days": 7}]},
            {"field": "trait", "key": "a__b", "op": "eq", "value": "x"},
            {"field": "segment", "op": "in", "value": 999999},
        ]}
    )  # fmt: skip
    assert len(errors) == 4  # the missing segment is checked once the tree's shape is right
    assert "rules.all[0]" in errors[0]
    assert "shoe_size" in errors[0]
    assert "stages" in errors[1]
    assert "rules.all[2].any[0]" in errors[2]
    with pytest.raises(segments.SegmentError):
        segments.as_q({"all": [{"field": "segment", "op": "in", "value": 999999}]})


@pytest.mark.django_db
def test_a_segment_may_not_include_itself_through_another():
    first = Segment.objects.create(name="first", rules={"all": []})
    second = Segment.objects.create(
        name="second", rules={"all": [{"field": "segment", "op": "in", "value": first.pk}]}
    )
    loop = {"all": [{"field": "segment", "op": "not_in", "value": second.pk}]}
    assert segments.validate(loop, segment_id=first.pk) == [f"Segment {first.pk} includes itself."]
    assert segments.validate(loop, segment_id=None) == []
