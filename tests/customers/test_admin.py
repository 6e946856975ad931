from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers import services
from customers.admin.base import EstimatedCountPaginator
from customers.models import Consent, Customer, Interaction, MergeRecord, MergeSuggestion
from tests.customers.factories import (
    ConsentFactory,
    CustomerFactory,
    IdentityFactory,
    InteractionFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:customers_customer_changelist"
CALL = {"type": "call", "channel": "phone", "direction": "in", "summary": "Asked about delivery"}


def change_url(customer):
    return reverse("admin:customers_customer_change", args=[customer.pk])


def log_url(customer):
    return reverse("admin:customers_customer_log", args=[customer.pk])


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def timeline_ids(response):
    return [row.item.pk for row in response.context["timeline_rows"]]


def bulk_interactions(customer, count, *, at=None, channel="web"):
    start = at or timezone.now()
    Interaction.objects.bulk_create(
        [
            Interaction(
                customer=customer,
                channel=channel,
                type=Interaction.Type.TRACK,
                name="Product Viewed",
                summary=f"Viewed product {n}",
                occurred_at=start if at else start - timedelta(seconds=n),
            )
            for n in range(count)
        ],
        batch_size=1000,
    )


@pytest.fixture
def agent():
    return StaffFactory(role="Support agent")


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


# --- The single customer view -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["Support agent", "Administrator"])
def test_change_page_runs_the_same_queries_at_10_and_5000_interactions(
    client, role, django_assert_num_queries
):
    client.force_login(StaffFactory(role=role))
    small = CustomerFactory(interactions=10)
    IdentityFactory(customer=small)
    big = CustomerFactory()
    bulk_interactions(big, 5000)
    identities = [IdentityFactory(customer=big) for _ in range(30)]
    IdentityFactory(customer=big, kind="phone", value="+989123456780")
    for identity in identities:
        ConsentFactory(customer=big, identity=identity)
    ConsentFactory(customer=big, purpose=Consent.Purpose.TRANSACTIONAL)
    client.get(change_url(CustomerFactory()))  # warm the content-type cache

    baseline = count_queries(client, change_url(small))

    assert baseline <= 25
    with django_assert_num_queries(baseline):
        response = client.get(change_url(big))
    assert len(response.context["timeline_rows"]) == 50
    assert response.context["timeline_older_url"]


def test_timeline_shows_the_newest_50_first_then_pages_older_by_keyset(agent_client):
    customer = CustomerFactory()
    bulk_interactions(customer, 120)
    newest_first = list(
        Interaction.objects.filter(customer=customer)
        .order_by("-occurred_at", "-pk")
        .values_list("pk", flat=True)
    )

    first = agent_client.get(change_url(customer))
    second = agent_client.get(first.context["timeline_older_url"])
    third = agent_client.get(second.context["timeline_older_url"])

    assert timeline_ids(first) == newest_first[:50]
    assert timeline_ids(second) == newest_first[50:100]
    assert timeline_ids(third) == newest_first[100:]
    assert third.context["timeline_older_url"] is None
    assert first.context["timeline_newest_url"] is None
    assert second.context["timeline_newest_url"].startswith(change_url(customer))
    assert "crm-older" in first.content.decode()


def test_timeline_pages_rows_with_equal_timestamps_by_id(agent_client):
    customer = CustomerFactory()
    bulk_interactions(customer, 60, at=timezone.now() - timedelta(days=1))
    newest_first = sorted(
        Interaction.objects.filter(customer=customer).values_list("pk", flat=True), reverse=True
    )

    first = agent_client.get(change_url(customer))
    second = agent_client.get(first.context["timeline_older_url"])

    assert timeline_ids(first) == newest_first[:50]
    assert timeline_ids(second)[0] == newest_first[50]
    assert timeline_ids(second) == newest_first[50:]


def test_timeline_channel_filter_shows_only_that_channel_and_keeps_it_when_paging(agent_client):
    customer = CustomerFactory()
    bulk_interactions(customer, 60, channel="sms")
    bulk_interactions(customer, 10, channel="web")

    response = agent_client.get(change_url(customer), {"channel": "sms"})

    rows = response.context["timeline_rows"]
    assert len(rows) == 50
    assert {row.item.channel for row in rows} == {"sms"}
    assert "channel=sms" in response.context["timeline_older_url"]
    older = agent_client.get(response.context["timeline_older_url"])
    assert {row.item.channel for row in older.context["timeline_rows"]} == {"sms"}
    assert len(older.context["timeline_rows"]) == 10
    channels = [c["value"] for c in response.context["timeline_channels"]]
    assert channels == ["sms", "web"]


def test_an_unknown_channel_or_broken_cursor_shows_the_first_page(agent_client):
    customer = CustomerFactory(interactions=3)

    response = agent_client.get(change_url(customer), {"channel": "fax", "before": "%%junk"})

    assert response.status_code == 200
    assert len(response.context["timeline_rows"]) == 3


def test_change_page_shows_identities_consents_and_open_suggestions(agent_client):
    customer = CustomerFactory()
    other = CustomerFactory(first_name="Maryam", last_name="Karimi")
    email = IdentityFactory(customer=customer, value="sara@example.org", verified=True)
    ConsentFactory(customer=customer, identity=email, status=Consent.Status.WITHDRAWN)
    services.suggest_merge(customer, other, kind="phone", value="+989121111111")
    for n in range(3):
        IdentityFactory(customer=customer, kind="anonymous_id", value=f"device-{n}")

    response = agent_client.get(change_url(customer))

    html = response.content.decode()
    assert [i.value for i, _label in response.context["identities"]] == ["sara@example.org"]
    assert "3 device / cookie ids" in html
    assert "sara@example.org" in html
    assert "Withdrawn" in html
    assert "Maryam Karimi" in html
    assert change_url(other) in html


def test_a_tombstone_page_links_to_its_survivor_and_has_no_log_form(agent_client):
    survivor = CustomerFactory(first_name="Sara", last_name="Ahmadi")
    duplicate = CustomerFactory()
    services.merge(survivor=survivor, duplicate=duplicate)

    response = agent_client.get(change_url(duplicate))

    html = response.content.decode()
    assert "This profile was merged into" in html
    assert f'href="{change_url(survivor)}"' in html
    assert 'id="log-interaction-form"' not in html
    assert response.context["log_form"] is None


def test_change_page_renders_right_to_left_in_persian(agent_client):
    customer = CustomerFactory(interactions=3)

    response = agent_client.get(change_url(customer), HTTP_ACCEPT_LANGUAGE="fa")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'dir="rtl"' in html
    assert 'lang="fa"' in html
    assert reverse("set_language") in html


def test_a_language_cookie_switches_the_admin_to_arabic(agent_client):
    agent_client.cookies["django_language"] = "ar"

    html = agent_client.get(reverse(CHANGELIST)).content.decode()

    assert 'dir="rtl"' in html


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("Asia/Tehran", "2025-01-01T15:30:00+03:30"),
        ("Asia%2FTehran", "2025-01-01T15:30:00+03:30"),
        ("Mars/Olympus", "2025-01-01T12:00:00+00:00"),
        ("Asia", "2025-01-01T12:00:00+00:00"),
        ("../../etc/passwd", "2025-01-01T12:00:00+00:00"),
    ],
)
def test_times_show_in_the_viewers_time_zone(agent_client, zone, shown):
    customer = CustomerFactory()
    InteractionFactory(customer=customer, occurred_at=datetime(2025, 1, 1, 12, tzinfo=UTC))
    agent_client.cookies["crm_tz"] = zone

    html = agent_client.get(change_url(customer)).content.decode()

    assert f'datetime="{shown}"' in html


@pytest.mark.parametrize("zone", ["Asia/Tehran", "Asia", "Nowhere/Else"])
def test_an_administrator_can_only_save_a_known_time_zone(admin_client, zone):
    customer = CustomerFactory()

    admin_client.post(
        change_url(customer),
        {"first_name": "Sara", "time_zone": zone, "stage": "awareness", "traits": "{}"},
    )

    customer.refresh_from_db()
    assert customer.time_zone == (zone if zone == "Asia/Tehran" else "")


# --- Logging an interaction ---------------------------------------------------------------------


def test_a_logged_call_lands_on_top_of_the_timeline_with_the_agent(agent_client, agent):
    customer = CustomerFactory(interactions=5)

    response = agent_client.post(
        log_url(customer),
        {
            "type": "call",
            "channel": "phone",
            "direction": "in",
            "summary": "Asked where order 1042 is",
            "details": "Promised a call back tomorrow.",
        },
    )

    assert response.status_code == 302
    assert response.url.startswith(change_url(customer))
    page = agent_client.get(change_url(customer))
    top = page.context["timeline_rows"][0].item
    assert (top.type, top.channel, top.direction) == ("call", "phone", "in")
    assert top.summary == "Asked where order 1042 is"
    assert top.agent == agent
    assert top.properties == {"details": "Promised a call back tomorrow."}
    assert agent.username in page.content.decode()


def test_a_logged_note_can_be_dated_in_the_past(agent_client):
    customer = CustomerFactory()

    agent_client.post(
        log_url(customer),
        {
            "type": "note",
            "channel": "store",
            "direction": "internal",
            "summary": "Prefers evening calls",
            "occurred_at": "2024-03-01T10:30",
        },
    )

    interaction = Interaction.objects.get(customer=customer)
    assert interaction.occurred_at.date().isoformat() == "2024-03-01"
    assert interaction.properties == {}


def test_an_empty_summary_shows_an_error_and_logs_nothing(agent_client):
    customer = CustomerFactory()

    response = agent_client.post(log_url(customer), {**CALL, "summary": "  "}, follow=True)

    assert response.status_code == 200
    assert not Interaction.objects.exists()
    assert response.context["log_form"].errors["summary"]
    assert "This field is required." in response.content.decode()
    assert any("not logged" in m for m in messages_of(response))


def test_a_time_in_the_future_is_refused(agent_client):
    customer = CustomerFactory()
    later = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")

    agent_client.post(log_url(customer), {**CALL, "occurred_at": later})

    assert not Interaction.objects.exists()


def test_the_log_url_only_accepts_post(agent_client):
    response = agent_client.get(log_url(CustomerFactory()))

    assert response.status_code == 405


# --- Customer list ------------------------------------------------------------------------------


def make_customers(count, *, start=0):
    for n in range(start, start + count):
        customer = CustomerFactory(last_seen_at=timezone.now() - timedelta(minutes=n))
        IdentityFactory(customer=customer)
        IdentityFactory(customer=customer, kind="phone", value=f"+98912{n:07d}")


def test_list_page_queries_do_not_grow_with_customers(agent_client):
    agent_client.get(reverse(CHANGELIST))
    make_customers(5)
    few = count_queries(agent_client, reverse(CHANGELIST))
    make_customers(45, start=5)

    many = count_queries(agent_client, reverse(CHANGELIST))

    assert many == few
    assert few <= 12


def test_list_shows_live_customers_with_primary_email_and_phone(agent_client):
    live = CustomerFactory(first_name="Sara", last_name="Ahmadi")
    IdentityFactory(customer=live, value="sara@example.org")
    IdentityFactory(customer=live, kind="phone", value="+989121234567")
    duplicate = CustomerFactory(first_name="Old")
    services.merge(survivor=live, duplicate=duplicate)

    response = agent_client.get(reverse(CHANGELIST))

    assert list(response.context["cl"].result_list) == [live]
    html = response.content.decode()
    assert "sara@example.org" in html
    assert "+989121234567" in html
    merged = agent_client.get(reverse(CHANGELIST), {"merged": "merged"})
    assert list(merged.context["cl"].result_list) == [duplicate]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"channel": "sms"}, "texted"),
        ({"consent": "granted"}, "granted"),
        ({"consent": "withdrawn"}, "withdrawn"),
        ({"consent": "none"}, "texted"),
        ({"suggestion": "open"}, "granted"),
        ({"stage": "purchase"}, "withdrawn"),
    ],
)
def test_list_filters(agent_client, params, expected):
    people = {
        "texted": CustomerFactory(),
        "granted": CustomerFactory(),
        "withdrawn": CustomerFactory(stage=Customer.Stage.PURCHASE),
    }
    InteractionFactory(customer=people["texted"], channel="sms")
    ConsentFactory(customer=people["granted"])
    ConsentFactory(customer=people["withdrawn"], status=Consent.Status.WITHDRAWN)
    services.suggest_merge(people["granted"], CustomerFactory(), kind="email", value="a@b.org")
    people["withdrawn"].refresh_from_db()

    response = agent_client.get(reverse(CHANGELIST), params)

    assert people[expected] in response.context["cl"].result_list
    others = [p for name, p in people.items() if name != expected]
    assert not set(others) & set(response.context["cl"].result_list)


@pytest.mark.parametrize(
    "term",
    [
        "۰۹۱۲ ۳۴۵ ۶۷۸۹",
        "٠٩١٢٣٤٥٦٧٨٩",
        "+98 912 345 6789",
        "علي",
        "  Ali.Rezaei@Example.ORG ",
        "reza",
    ],
)
def test_admin_search_finds_a_customer_typed_any_way(agent_client, term):
    wanted = CustomerFactory(first_name="علی", last_name="Rezaei")
    IdentityFactory(customer=wanted, kind="phone", value="+989123456789")
    IdentityFactory(customer=wanted, kind="email", value="ali.rezaei@example.org")
    decoy = CustomerFactory(first_name="Maryam", last_name="Karimi")
    IdentityFactory(customer=decoy, kind="phone", value="+989351112233")
    services.refresh_search_text([wanted.pk, decoy.pk])

    response = agent_client.get(reverse(CHANGELIST), {"q": term})

    assert list(response.context["cl"].result_list) == [wanted]


# --- Merging ------------------------------------------------------------------------------------


def merge_action(client, *customers, confirm=False):
    data = {"action": "merge_selected", "_selected_action": [c.pk for c in customers]}
    if confirm:
        data["confirm"] = "yes"
    return client.post(reverse(CHANGELIST), data)


def test_merge_action_shows_the_survivor_and_that_opt_out_wins(agent_client):
    older = CustomerFactory(first_name="Sara", last_name="", order_count=1)
    newer = CustomerFactory(first_name="", last_name="Ahmadi", order_count=2)
    ConsentFactory(customer=older, status=Consent.Status.GRANTED)
    ConsentFactory(customer=newer, status=Consent.Status.WITHDRAWN)
    InteractionFactory.create_batch(3, customer=newer)

    response = merge_action(agent_client, newer, older)

    assert response.status_code == 200
    preview = response.context["preview"]
    assert preview.survivor == older
    assert [c.result for c in preview.consents] == ["Withdrawn"]
    fields = {f.label: f for f in preview.fields}
    assert fields["last name"].result == "Ahmadi"
    assert fields["orders"].result == "3"
    assert ("interactions", 3) in preview.moves
    html = response.content.decode()
    assert "Sara" in html
    assert "opt-out wins" in html
    assert not MergeRecord.objects.exists()
    older.refresh_from_db()
    assert older.order_count == 1


def test_confirming_the_merge_leaves_a_tombstone_and_moves_the_history(agent_client, agent):
    older = CustomerFactory()
    newer = CustomerFactory(interactions=4)

    response = merge_action(agent_client, older, newer, confirm=True)

    assert response.status_code == 302
    newer.refresh_from_db()
    assert newer.merged_into == older
    assert Interaction.objects.filter(customer=older).count() == 4
    record = MergeRecord.objects.get()
    assert (record.merged_by, record.reason) == (agent, "admin")
    assert any(change_url(older) in m for m in messages_of(response))


def test_merging_two_different_accounts_is_refused_with_a_message(agent_client):
    first = CustomerFactory()
    second = CustomerFactory()
    IdentityFactory(customer=first, kind="user_id", value="account-1")
    IdentityFactory(customer=second, kind="user_id", value="account-2")

    response = merge_action(agent_client, first, second, confirm=True)

    assert response.status_code == 302
    assert Customer.objects.filter(merged_into__isnull=False).count() == 0
    assert not MergeRecord.objects.exists()
    assert any("account id" in m for m in messages_of(response))


def test_merging_one_customer_is_refused(agent_client):
    response = merge_action(agent_client, CustomerFactory())

    assert response.status_code == 302
    assert any("at least two" in m for m in messages_of(response))


def test_undo_action_restores_the_duplicate(agent_client):
    survivor = CustomerFactory()
    duplicate = CustomerFactory(interactions=2)
    record = services.merge(survivor=survivor, duplicate=duplicate)

    response = agent_client.post(
        reverse("admin:customers_mergerecord_changelist"),
        {"action": "undo_selected", "_selected_action": [record.pk]},
    )

    assert response.status_code == 302
    duplicate.refresh_from_db()
    record.refresh_from_db()
    assert duplicate.merged_into is None
    assert record.undone_at is not None
    assert Interaction.objects.filter(customer=duplicate).count() == 2


def test_a_blocked_undo_shows_why(agent_client):
    survivor, second, third = CustomerFactory(), CustomerFactory(), CustomerFactory()
    first_record = services.merge(survivor=survivor, duplicate=second)
    services.merge(survivor=survivor, duplicate=third)

    response = agent_client.post(
        reverse("admin:customers_mergerecord_changelist"),
        {"action": "undo_selected", "_selected_action": [first_record.pk]},
    )

    first_record.refresh_from_db()
    assert first_record.undone_at is None
    assert any("undo it first" in m for m in messages_of(response))


def test_merge_record_page_shows_what_moved(agent_client):
    survivor = CustomerFactory()
    record = services.merge(survivor=survivor, duplicate=CustomerFactory(interactions=3))

    response = agent_client.get(reverse("admin:customers_mergerecord_change", args=[record.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "<th>interactions</th><td>3</td>" in html
    assert 'name="_save"' not in html


def suggestion_action(client, action, suggestion):
    return client.post(
        reverse("admin:customers_mergesuggestion_changelist"),
        {"action": action, "_selected_action": [suggestion.pk]},
    )


def test_accepting_a_suggestion_merges_the_pair(agent_client):
    first, second = CustomerFactory(), CustomerFactory()
    suggestion = services.suggest_merge(first, second, kind="email", value="same@example.org")

    suggestion_action(agent_client, "accept_selected", suggestion)

    second.refresh_from_db()
    suggestion.refresh_from_db()
    assert second.merged_into == first
    assert suggestion.status == MergeSuggestion.Status.ACCEPTED


def test_rejecting_a_suggestion_closes_it_without_merging(agent_client, agent):
    first, second = CustomerFactory(), CustomerFactory()
    suggestion = services.suggest_merge(first, second, kind="email", value="same@example.org")

    suggestion_action(agent_client, "reject_selected", suggestion)

    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.resolved_by) == (MergeSuggestion.Status.REJECTED, agent)
    assert not Customer.objects.filter(merged_into__isnull=False).exists()
    listed = agent_client.get(reverse("admin:customers_mergesuggestion_changelist"))
    assert list(listed.context["cl"].result_list) == []


# --- The other tables ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "customers_source_changelist",
        "customers_identity_changelist",
        "customers_consent_changelist",
        "customers_interaction_changelist",
        "customers_mergerecord_changelist",
        "customers_mergesuggestion_changelist",
    ],
)
def test_every_list_page_renders(admin_client, name):
    customer = CustomerFactory(interactions=3)
    ConsentFactory(customer=customer, identity=IdentityFactory(customer=customer))

    assert admin_client.get(reverse(f"admin:{name}")).status_code == 200


def test_the_interaction_list_uses_the_planner_estimate_on_a_big_postgres_table(
    agent_client, postgres_only, monkeypatch
):
    InteractionFactory.create_batch(3)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_interaction")
    monkeypatch.setattr(EstimatedCountPaginator, "ESTIMATE_ABOVE", 0)

    with CaptureQueriesContext(connection) as queries:
        response = agent_client.get(reverse("admin:customers_interaction_changelist"))

    assert response.context["cl"].result_count == 3
    assert not [q for q in queries if "COUNT(" in q["sql"].upper()]


def test_identity_search_normalises_the_term(agent_client):
    identity = IdentityFactory(kind="phone", value="+989123456789")
    IdentityFactory(kind="phone", value="+989123456780")

    response = agent_client.get(
        reverse("admin:customers_identity_changelist"), {"q": "۰۹۱۲-۳۴۵-۶۷۸۹"}
    )

    assert list(response.context["cl"].result_list) == [identity]


def test_a_suggestion_page_offers_accept_and_reject_buttons_that_work(agent_client):
    first, second = CustomerFactory(), CustomerFactory()
    suggestion = services.suggest_merge(first, second, kind="email", value="same@example.org")
    url = reverse("admin:customers_mergesuggestion_change", args=[suggestion.pk])

    html = agent_client.get(url).content.decode()
    agent_client.post(
        reverse("admin:customers_mergesuggestion_changelist"),
        {"action": "accept_selected", "_selected_action": suggestion.pk},
    )

    assert 'value="accept_selected"' in html
    assert 'value="reject_selected"' in html
    second.refresh_from_db()
    assert second.merged_into == first


def test_a_merge_record_page_offers_undo_only_while_it_is_not_undone(agent_client):
    record = services.merge(survivor=CustomerFactory(), duplicate=CustomerFactory())
    url = reverse("admin:customers_mergerecord_change", args=[record.pk])

    before = agent_client.get(url).content.decode()
    services.undo_merge(record)
    after = agent_client.get(url).content.decode()

    assert 'value="undo_selected"' in before
    assert 'value="undo_selected"' not in after
