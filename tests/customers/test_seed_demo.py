import re
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count, Max, Min

from customers import demo, selectors, services
from customers.identity import normalize_identifier
from customers.models import Consent, Customer, Identity, Interaction, MergeSuggestion, Source

pytestmark = pytest.mark.django_db

# Customers around the stories: enough for every language and consent state, fast on SQLite.
SAMPLE = "--sample-size=30"
PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
PERSIAN_ONLY_LETTERS = set("پچژگکی")
ARABIC_ONLY_LETTERS = set("يكةأإ")
AZERBAIJANI_LETTERS = set("əƏçÇşŞğĞıİöÖüÜ")


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def sample():
    return seed(SAMPLE)


def row_counts() -> dict[str, int]:
    ours = {"auth", "customers", "channels", "commerce", "journeys", "campaigns"}
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.app_label in ours
    }


def arabic_script(text: str) -> bool:
    return all(char == " " or "\u0600" <= char <= "\u06ff" for char in text)


def names(locale: str) -> list[str]:
    return [
        f"{first} {last}"
        for first, last in Customer.objects.filter(locale=locale).values_list(
            "first_name", "last_name"
        )
    ]


def test_sample_has_customers_in_each_language_written_in_its_own_script(sample):
    persian, arabic, azerbaijani, english = (names(locale) for locale in ("fa", "ar", "az", "en"))

    assert all(map(arabic_script, persian))
    assert any(PERSIAN_ONLY_LETTERS & set(name) for name in persian)
    assert not any(ARABIC_ONLY_LETTERS & set(name) for name in persian)
    assert all(map(arabic_script, arabic))
    assert any("ي" in name for name in arabic)
    assert not any(PERSIAN_ONLY_LETTERS & set(name) for name in arabic)
    assert any(AZERBAIJANI_LETTERS & set(name) for name in azerbaijani)
    assert all(name.isascii() for name in english)


def test_sample_time_zones_match_the_language(sample):
    zones = set(Customer.objects.values_list("locale", "time_zone").distinct())

    assert {("fa", "Asia/Tehran"), ("ar", "Asia/Dubai"), ("az", "Asia/Baku")} <= zones
    assert {zone for locale, zone in zones if locale == "en"} <= {
        "Europe/London",
        "America/New_York",
    }


def test_seeding_again_adds_nothing(sample):
    before = row_counts()

    again = seed(SAMPLE)
    once = seed("--once", SAMPLE)

    assert row_counts() == before
    assert "already loaded" in again
    assert once.strip() == "demo data already loaded"


def test_web_registration_and_a_later_call_are_one_profile_with_both(sample):
    story = demo.STORY_WEB_THEN_CALL

    customer = services.find_customer({"email": story["email"]})
    by_phone = services.find_customer({"phone": "۰۹۳۷ ۱۲۳ ۴۵۶۷"})
    by_account = services.find_customer({"user_id": story["user_id"]})

    assert customer is not None
    assert customer.pk == by_phone.pk == by_account.pk
    assert Customer.objects.live().filter(identities__value=story["phone"]).count() == 1
    history = {(item.channel, item.name) for item in selectors.timeline(customer).items}
    assert {("web", "Signed Up"), ("phone", "Inbound call")} <= history


def test_anonymous_browsing_then_app_login_is_one_profile_with_both_halves(sample):
    story = demo.STORY_ANONYMOUS_THEN_APP

    customer = services.find_customer({"anonymous_id": story["anonymous_id"]})

    assert customer is not None
    assert customer.pk == services.find_customer({"user_id": story["user_id"]}).pk
    assert customer.pk == services.find_customer({"email": story["email"]}).pk
    items = selectors.timeline(customer).items
    assert {"Product Viewed", "Product Added"} <= {i.name for i in items if i.channel == "web"}
    assert {"Logged In", "Order Completed"} <= {i.name for i in items if i.channel == "app"}


def test_sample_has_sources_channels_consents_and_open_suggestions(sample):
    sources = {source.name: (source.kind, source.trusted) for source in Source.objects.all()}
    channels = set(Interaction.objects.values_list("channel", flat=True))
    consents = set(Consent.objects.values_list("status", flat=True))

    assert sources["Web shop"] == ("web", False)
    assert sources["Mobile app"] == ("app", False)
    assert sources["Store POS"] == ("pos", False)
    assert sources["Call center"] == ("call_center", True)
    assert {"web", "app", "email", "sms", "phone", "store"} <= channels
    assert {"granted", "withdrawn"} <= consents
    story = demo.STORY_STORE_THEN_WEB
    assert MergeSuggestion.objects.filter(
        status="open", identity_kind="phone", identity_value=story["phone"]
    ).exists()
    assert MergeSuggestion.objects.filter(status="open").count() >= 2


def timeline_spans() -> dict[int, tuple]:
    return {
        row["customer"]: (row["first"], row["last"])
        for row in Interaction.objects.values("customer")
        .annotate(first=Min("occurred_at"), last=Max("occurred_at"))
        .order_by()
    }


def test_generated_rows_match_what_the_services_would_write(sample):
    identities = list(Identity.objects.values_list("kind", "value"))
    search_text = dict(Customer.objects.values_list("pk", "search_text"))
    spans = timeline_spans()

    services.refresh_search_text(search_text)

    assert all(normalize_identifier(kind, value) == value for kind, value in identities)
    assert dict(Customer.objects.values_list("pk", "search_text")) == search_text
    # An identify counts as being seen now, so the stories' profiles may reach past their rows.
    for pk, first_seen, last_seen in Customer.objects.live().values_list(
        "pk", "first_seen_at", "last_seen_at"
    ):
        first, last = spans[pk]
        assert first_seen <= first
        assert last_seen >= last


def test_demo_logins_need_debug_or_the_flag(settings):
    settings.DEBUG = False
    users = get_user_model().objects

    quiet = seed("--customers=0")
    assert not users.filter(username__in=[login.username for login in demo.DEMO_LOGINS]).exists()
    assert "not created" in quiet

    out = seed("--customers=0", "--with-logins")
    for role, username, password in demo.DEMO_LOGINS:
        user = users.get(username=username)
        assert user.is_staff
        assert user.check_password(password)
        assert list(user.groups.values_list("name", flat=True)) == [role]
        assert user.is_superuser == (username == "admin")
        assert f"{username} / {password}" in out

    settings.DEBUG = True
    seed("--customers=0")
    assert users.count() == len(demo.DEMO_LOGINS)


def test_bulk_mode_creates_exactly_n_customers_with_k_interactions_each():
    out = seed("--customers=12", "--interactions-per-customer=7")

    assert Customer.objects.count() == 12
    assert Interaction.objects.count() == 12 * 7
    per_customer = Interaction.objects.values("customer").annotate(n=Count("pk")).order_by()
    assert {row["n"] for row in per_customer} == {7}
    customers = Customer.objects.values_list("pk", "first_seen_at", "last_seen_at")
    assert {pk: (first, last) for pk, first, last in customers} == timeline_spans()
    assert "created 12 customers" in out


def test_bulk_mode_adds_only_the_missing_customers():
    seed("--customers=12", "--interactions-per-customer=7")
    before = row_counts()

    again = seed("--customers=12", "--interactions-per-customer=7")
    assert row_counts() == before
    assert "12 benchmark customers were there already" in again

    seed("--customers=14", "--interactions-per-customer=0")
    assert Customer.objects.count() == 14
    assert Interaction.objects.count() == 12 * 7


def test_bulk_customers_are_found_by_phone_typed_in_persian_digits():
    seed("--customers=8", "--interactions-per-customer=2")
    phones = Identity.objects.filter(kind="phone", value__startswith="+98")
    customer_id, phone = phones.values_list("customer_id", "value").first()
    typed = ("0" + phone.removeprefix("+98")).translate(PERSIAN_DIGITS)
    search_text = dict(Customer.objects.values_list("pk", "search_text"))

    found = selectors.search_customers(Customer.objects.all(), typed)

    assert list(found.values_list("pk", flat=True)) == [customer_id]
    services.refresh_search_text(search_text)
    assert dict(Customer.objects.values_list("pk", "search_text")) == search_text
    assert all(
        normalize_identifier(kind, value) == value
        for kind, value in Identity.objects.values_list("kind", "value")
    )


def test_bulk_mode_adds_one_hot_customer_once():
    out = seed("--customers=2", "--interactions-per-customer=3", "--hot-customer-interactions=120")
    again = seed("--hot-customer-interactions=120")

    pk = int(re.search(r"hot customer: pk=(\d+)", out).group(1))
    assert f"hot customer: pk={pk} (already there)" in again
    assert Interaction.objects.filter(customer_id=pk).count() == 120
    assert Customer.objects.count() == 3
    page = selectors.timeline(Customer.objects.get(pk=pk))
    assert len(page.items) == selectors.TIMELINE_PAGE_SIZE
    assert page.next_cursor is not None
