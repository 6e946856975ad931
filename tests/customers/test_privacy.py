"""Data rights: export everything, erase the person, suppress their identifiers; the admin side
(permissions, confirmation, audit) and the other audited exports."""

import itertools
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib import admin
from django.core import serializers
from django.db import models
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignRun, Recipient, Segment, SegmentMember
from channels import batch, tracking
from channels.models import Message
from commerce.models import Cart, Order, Product, StockAlert
from customers import cases, consents, privacy, services
from customers.errors import DomainError
from customers.models import (
    Case,
    Consent,
    Customer,
    ErasedIdentifier,
    Identity,
    Interaction,
    MergeRecord,
)
from customers.services.suppression import digest
from journeys.models import Enrollment, Journey
from security.models import AuditEntry
from tests.channels.factories import ChannelFactory, MessageFactory
from tests.customers.factories import CustomerFactory, SourceFactory, StaffFactory

pytestmark = pytest.mark.django_db

EMAIL = "Leyla.Rahimi@Example.org"
EMAIL_NORMAL = "leyla.rahimi@example.org"
PHONE = "0912 345 6789"
PHONE_E164 = "+989123456789"
SECRET = "allergic to peanuts"  # free text that must not survive an erasure
ORDER_NUMBERS = itertools.count(1000)


def build_history(source, *, user_id="u-777", email=EMAIL, phone=PHONE, first="Leyla",
                  last="Rahimi", interactions=3, orders=1, secret=SECRET):  # fmt: skip
    """A customer with a row of every kind, made through the real services where they exist."""
    customer = services.identify(
        {"user_id": user_id, "anonymous_id": f"dev-{user_id}", "email": email, "phone": phone},
        traits={"firstName": first, "lastName": last, "note": secret},
        source=source,
    )
    now = timezone.now()
    for n in range(interactions):
        services.record_interaction(
            customer=customer,
            source=source,
            type=Interaction.Type.TRACK,
            channel="web",
            name="Product Viewed",
            summary=f"{first} viewed sku-{n}",
            occurred_at=now - timedelta(minutes=n + 10),
            properties={"sku": f"sku-{n}", "email": email, "comment": secret},
            context={"ip": "203.0.113.7", "userAgent": "Firefox"},
        )
    for n in range(orders):
        services.record_interaction(
            customer=customer,
            source=source,
            type=Interaction.Type.TRACK,
            channel="web",
            name="Order Completed",
            occurred_at=now - timedelta(minutes=n),
            properties={
                "order_id": f"order-{next(ORDER_NUMBERS)}",
                "total": 120.5,
                "currency": "EUR",
                "shipping_name": f"{first} {last}",
                "products": [{"sku": "sku-1", "name": "Tea", "price": 60.25, "quantity": 2}],
            },
        )
    consents.set_consent(
        customer,
        channel="email",
        purpose="marketing",
        status="granted",
        address=email,
        source=source,
        wording="Send me offers",
        proof={"ip": "203.0.113.7", "form": "signup", "typed": email},
    )
    case = cases.open_case(customer=customer, subject=f"{first} cannot log in", channel="phone")
    Case.objects.filter(pk=case.pk).update(csat_comment=secret)
    channel = ChannelFactory()
    address = Identity.objects.get(customer=customer, kind="email")
    MessageFactory(
        customer=customer, channel=channel, address=address, to=address.value,
        subject=f"Hello {first}", text=f"Dear {first} {last}, {secret}",
    )  # fmt: skip
    MessageFactory(
        customer=customer, channel=channel, address=address, to=address.value,
        status=Message.Status.QUEUED, sent_at=None, subject="Later", text=f"Hi {first}",
    )  # fmt: skip
    product, _ = Product.objects.get_or_create(sku="sku-1", defaults={"name": "Tea"})
    StockAlert.objects.create(customer=customer, product=product, channel="email", address=email)
    journey = Journey.objects.order_by("pk").first()
    Enrollment.objects.create(
        journey=journey,
        customer=customer,
        context_key=f"cart:{next(ORDER_NUMBERS)}",
        context={"email": email, "note": secret},
        next_run_at=now + timedelta(hours=1),
    )
    segment, _ = Segment.objects.get_or_create(name="VIPs", kind="static")
    SegmentMember.objects.create(segment=segment, customer=customer)
    campaign, _ = Campaign.objects.get_or_create(name="Spring", segment=segment)
    run, _ = CampaignRun.objects.get_or_create(campaign=campaign)
    Recipient.objects.create(run=run, customer=customer)
    return Customer.objects.get(pk=customer.pk)


@pytest.fixture
def source():
    return SourceFactory(name="Web shop", kind="web")


@pytest.fixture
def person(source):
    return build_history(source)


@pytest.fixture
def stranger(source):
    return build_history(
        source, user_id="u-888", email="omid@example.net", phone="0935 111 2222",
        first="Omid", last="Karimi", secret="likes green tea",
    )  # fmt: skip


def login(client, role):
    staff = StaffFactory(role=role)
    client.force_login(staff)
    return staff


def every_row_as_text() -> str:
    """Every row of every model of ours, serialised: where a trace would hide."""
    ours = {"customers", "channels", "commerce", "journeys", "campaigns", "insights", "security"}
    chunks = []
    for model in apps.get_models():
        if model._meta.app_label in ours and model._meta.managed:
            chunks.append(serializers.serialize("json", model._default_manager.all()))
    return "\n".join(chunks).lower()


# --- The registry ---------------------------------------------------------------------------------


def test_every_model_with_a_customer_foreign_key_is_registered_for_data_rights():
    assert list(privacy.unregistered_models()) == []


def test_a_model_without_a_registration_is_reported():
    class Diary(models.Model):  # noqa: DJ008
        customer = models.ForeignKey(Customer, on_delete=models.CASCADE)

        class Meta:
            app_label = "customers"

    try:
        assert "customers.diary" in list(privacy.unregistered_models())
    finally:
        del apps.all_models["customers"]["diary"]
        apps.clear_cache()


# --- Export ---------------------------------------------------------------------------------------


def test_the_export_holds_every_kind_of_row_and_no_other_customers(person, stranger):
    document = services.export_document(person)
    text = json.dumps(document, default=str).lower()

    assert document["customer"]["first_name"] == "Leyla"
    assert document["customer"]["traits"] == {"note": SECRET}
    assert {(i["kind"], i["value"]) for i in document["identities"]} == {
        ("user_id", "u-777"),
        ("anonymous_id", "dev-u-777"),
        ("email", EMAIL_NORMAL),
        ("phone", PHONE_E164),
    }
    consent = next(c for c in document["consents"] if c["wording"] == "Send me offers")
    assert consent["proof"]["ip"] == "203.0.113.7"
    assert len(document["interactions"]) == Interaction.objects.filter(customer=person).count()
    assert {i["name"] for i in document["interactions"]} >= {"Product Viewed", "Order Completed"}
    assert document["orders"][0]["lines"][0]["sku"] == "sku-1"
    assert document["orders"][0]["total"] == Decimal("120.50")
    assert [c["subject"] for c in document["cases"]] == ["Leyla cannot log in"]
    assert {m["text"] for m in document["messages"]} == {f"Dear Leyla Rahimi, {SECRET}", "Hi Leyla"}
    assert len(document["carts"]) == Cart.objects.filter(customer=person).count()
    assert len(document["stock_alerts"]) == 1
    enrollments = document["journey_enrollments"]
    assert len(enrollments) == Enrollment.objects.filter(customer=person).count()
    assert {"email": EMAIL, "note": SECRET} in [e["context"] for e in enrollments]
    assert len(document["segment_memberships"]) == 1
    assert len(document["campaign_recipients"]) == 1
    for trace in ("omid", "karimi", "u-888", "+989351112222"):
        assert trace not in text


def test_the_export_includes_profiles_merged_into_the_customer(source, person):
    duplicate = CustomerFactory(first_name="Layla", last_name="R.")
    Identity.objects.create(customer=duplicate, kind="loyalty_card", value="LC-42")
    services.merge(survivor=person, duplicate=duplicate)

    document = services.export_document(duplicate)  # the old id names the survivor

    assert document["customer"]["id"] == person.pk
    assert [p["first_name"] for p in document["merged_profiles"]] == ["Layla"]
    assert document["merge_history"][0]["duplicate_id"] == duplicate.pk
    assert ("loyalty_card", "LC-42") in {(i["kind"], i["value"]) for i in document["identities"]}


def test_the_export_takes_the_same_queries_however_long_the_history(
    source, django_assert_max_num_queries
):
    small = build_history(source, user_id="small", email="s@example.org", phone="0912 000 0001")
    large = build_history(
        source, user_id="large", email="l@example.org", phone="0912 000 0002",
        interactions=150, orders=15,
    )  # fmt: skip
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as baseline:
        services.export_document(small)
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        document = services.export_document(large)
    assert len(document["orders"]) == 15
    assert len(document["interactions"]) > 150


# --- Erasure --------------------------------------------------------------------------------------


def test_erasure_leaves_no_trace_of_the_person_in_any_row(person, stranger):
    services.export_customer(person, via="admin")  # an audit entry that named them
    services.erase_customer(person, via="admin")

    text = every_row_as_text()
    for trace in (
        EMAIL_NORMAL, PHONE_E164, "09123456789", "leyla", "rahimi", SECRET, "u-777",
        "dev-u-777",
    ):  # fmt: skip
        assert trace not in text, trace
    # The stranger is untouched.
    assert "omid@example.net" in text
    assert Customer.objects.get(pk=stranger.pk).first_name == "Omid"


def test_erasure_keeps_rows_counts_and_amounts(person):
    before = {
        "interactions": Interaction.objects.filter(customer=person).count(),
        "orders": list(Order.objects.filter(customer=person).values_list("total", "channel")),
        "messages": Message.objects.filter(customer=person).count(),
        "cases": Case.objects.filter(customer=person).count(),
        "carts": Cart.objects.filter(customer=person).count(),
    }

    erased = services.erase_customer(person, via="admin")

    assert erased.display_name == "Erased customer"
    assert erased.erased_at is not None
    assert (erased.order_count, erased.total_spent) == (person.order_count, person.total_spent)
    assert erased.total_spent == Decimal("120.50")
    assert before == {
        "interactions": Interaction.objects.filter(customer=person).count(),
        "orders": list(Order.objects.filter(customer=person).values_list("total", "channel")),
        "messages": Message.objects.filter(customer=person).count(),
        "cases": Case.objects.filter(customer=person).count(),
        "carts": Cart.objects.filter(customer=person).count(),
    }
    assert Order.objects.get(customer=person).lines.get().quantity == 2
    order_event = Interaction.objects.get(customer=person, name="Order Completed")
    assert order_event.properties == {"total": 120.5, "currency": "EUR"}
    assert order_event.context == {}
    assert not Identity.objects.filter(customer=person).exists()


def test_erasure_stops_what_was_still_to_happen(person):
    services.erase_customer(person, via="admin")

    statuses = set(Message.objects.filter(customer=person).values_list("status", flat=True))
    assert statuses == {Message.Status.SUPPRESSED, Message.Status.SENT}
    assert not Message.objects.filter(customer=person, status=Message.Status.QUEUED).exists()
    assert Enrollment.objects.filter(customer=person).count() >= 1
    for enrollment in Enrollment.objects.filter(customer=person):
        assert enrollment.status != "active"
        assert (enrollment.next_run_at, enrollment.context) == (None, {})
    assert StockAlert.objects.get(customer=person).status == StockAlert.Status.CANCELLED


def test_a_consent_keeps_its_proof_with_the_address_as_a_hash(person):
    consent = Consent.objects.get(customer=person, identity__kind="email")

    services.erase_customer(person, via="admin")

    consent.refresh_from_db()
    assert consent.identity_id is None
    assert consent.erased_address == digest("email", EMAIL_NORMAL)
    assert (consent.status, consent.purpose, consent.wording) == (
        "granted",
        "marketing",
        "Send me offers",
    )
    assert consent.proof == {"ip": "203.0.113.7", "form": "signup", "typed": "[erased]"}
    assert consent.created_at is not None


def test_the_erased_identifiers_are_on_the_suppression_list_as_hashes_only(person):
    services.erase_customer(person, via="admin")

    digests = set(ErasedIdentifier.objects.values_list("digest", flat=True))
    assert digest("email", EMAIL_NORMAL) in digests
    assert digest("phone", PHONE_E164) in digests
    assert digest("user_id", "u-777") in digests
    assert ErasedIdentifier.objects.count() == 4


def test_erasure_is_audited_and_earlier_entries_lose_the_name(person):
    staff = StaffFactory(role="Administrator")
    services.export_customer(person, via="admin", actor=staff)

    services.erase_customer(person, via="admin", actor=staff)

    entries = AuditEntry.objects.filter(target_type="customers.customer", target_id=str(person.pk))
    assert sorted(entries.values_list("action", flat=True)) == ["customer.erase", "customer.export"]
    assert set(entries.values_list("target_label", flat=True)) == {"Erased customer"}
    assert set(entries.values_list("actor", flat=True)) == {staff.pk}


def test_erasing_twice_is_harmless(person):
    services.erase_customer(person, via="admin")
    services.erase_customer(person, via="admin")

    assert Customer.objects.get(pk=person.pk).display_name == "Erased customer"
    assert AuditEntry.objects.filter(action="customer.erase").count() == 2


def test_erasing_a_merged_profile_erases_the_person_and_every_profile_merged_into_them(person):
    duplicate = CustomerFactory(first_name="Layla", last_name="Rahimy", traits={"x": SECRET})
    Identity.objects.create(customer=duplicate, kind="loyalty_card", value="LC-42")
    services.merge(survivor=person, duplicate=duplicate)

    services.erase_customer(duplicate, via="admin")

    for pk in (person.pk, duplicate.pk):
        row = Customer.objects.get(pk=pk)
        assert (row.first_name, row.last_name, row.traits) == ("", "", {})
        assert row.erased_at is not None
    assert ErasedIdentifier.objects.filter(digest=digest("loyalty_card", "LC-42")).exists()
    assert "layla" not in every_row_as_text()
    record = MergeRecord.objects.get(duplicate=duplicate)
    with pytest.raises(DomainError) as error:
        services.undo_merge(record)
    assert error.value.code == "customer_erased"


def test_an_erased_customer_is_not_merged_again(person):
    services.erase_customer(person, via="admin")
    other = CustomerFactory()

    with pytest.raises(DomainError) as error:
        services.merge(survivor=person, duplicate=other)
    assert error.value.code == "customer_erased"


# --- Suppression: the erased identifiers never come back ------------------------------------------


def identify_message(**fields):
    return {"type": "identify", "traits": {"email": EMAIL, "firstName": "Leyla"}, **fields}


def test_ingesting_the_erased_email_later_does_not_store_it_again(source, person):
    services.erase_customer(person, via="admin")

    tracking.apply_message(
        identify_message(anonymousId="new-device", context={"traits": {"email": EMAIL}}),
        source=source,
        received_at=timezone.now(),
    )

    assert not Identity.objects.filter(value=EMAIL_NORMAL).exists()
    newcomer = Identity.objects.get(kind="anonymous_id", value="new-device").customer
    assert newcomer.pk != person.pk
    assert EMAIL_NORMAL not in every_row_as_text()


def test_a_message_with_only_erased_identifiers_is_rejected_with_a_code(source, person):
    services.erase_customer(person, via="admin")

    with pytest.raises(tracking.MessageError) as error:
        tracking.apply_message(
            identify_message(userId="u-777"), source=source, received_at=timezone.now()
        )

    assert error.value.code == "identifier_erased"
    assert not Identity.objects.filter(value__in=["u-777", EMAIL_NORMAL]).exists()


def test_a_batch_does_not_store_the_erased_identifiers_either(source, person):
    services.erase_customer(person, via="admin")
    messages = [
        {"type": "track", "event": "Product Viewed", "userId": "u-777", "messageId": "m1"},
        {"type": "track", "event": "Product Viewed", "anonymousId": "dev-u-777", "messageId": "m2"},
        identify_message(anonymousId="fresh", messageId="m3"),
        {"type": "track", "event": "Product Viewed", "anonymousId": "fresh", "messageId": "m4"},
    ]

    result = batch.apply_batch(messages, source=source)

    assert [r.code for r in result.rejected] == ["identifier_erased", "identifier_erased"]
    assert result.accepted == 2
    assert not Identity.objects.filter(value__in=["u-777", "dev-u-777", EMAIL_NORMAL]).exists()
    assert Identity.objects.filter(value="fresh").count() == 1


def test_the_api_lookup_and_services_resolve_refuse_an_erased_identifier(person):
    services.erase_customer(person, via="admin")

    with pytest.raises(DomainError) as error:
        services.resolve({"email": EMAIL})
    assert error.value.code == "identifier_erased"
    assert services.find_customer({"email": EMAIL}) is None


# --- Admin ----------------------------------------------------------------------------------------


def export_url(customer):
    return reverse("admin:customers_customer_export", args=[customer.pk])


def erase_url(customer):
    return reverse("admin:customers_customer_erase", args=[customer.pk])


@pytest.mark.parametrize("role", ["Support agent", "Marketing"])
def test_support_agents_and_marketing_cannot_export_or_erase(client, person, role):
    login(client, role)

    assert client.get(export_url(person)).status_code == 403
    assert client.get(erase_url(person)).status_code == 403
    assert client.post(erase_url(person)).status_code == 403
    page = client.get(reverse("admin:customers_customer_change", args=[person.pk]))
    assert page.status_code == 200
    assert export_url(person) not in page.content.decode()
    assert erase_url(person) not in page.content.decode()
    assert Customer.objects.get(pk=person.pk).erased_at is None
    assert not AuditEntry.objects.filter(action__in=["customer.export", "customer.erase"]).exists()


def test_an_administrator_downloads_the_export_and_it_is_audited(client, person):
    staff = login(client, "Administrator")
    page = client.get(reverse("admin:customers_customer_change", args=[person.pk])).content
    assert export_url(person) in page.decode()

    response = client.get(export_url(person))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    document = json.loads(response.content)
    assert document["customer"]["public_id"] == str(person.public_id)
    assert len(document["identities"]) == 4
    entry = AuditEntry.objects.get(action="customer.export")
    assert (entry.actor_id, entry.target_id, entry.details["via"]) == (
        staff.pk,
        str(person.pk),
        "admin",
    )


def test_the_erase_page_explains_first_and_erases_only_on_confirmation(client, person):
    staff = login(client, "Administrator")

    page = client.get(erase_url(person))

    assert page.status_code == 200
    assert "This cannot be undone." in page.content.decode()
    assert Customer.objects.get(pk=person.pk).erased_at is None

    response = client.post(erase_url(person), follow=True)

    assert response.status_code == 200
    assert "Erased customer" in response.content.decode()
    assert Customer.objects.get(pk=person.pk).erased_at is not None
    assert AuditEntry.objects.get(action="customer.erase").actor_id == staff.pk


def test_no_admin_action_lets_a_support_agent_export_or_bulk_download():
    agent = StaffFactory(role="Support agent")
    request = RequestFactory().get("/admin/")
    request.user = agent
    offered = {}
    for model, model_admin in admin.site._registry.items():
        if model_admin.has_view_permission(request):
            offered[model._meta.label_lower] = set(model_admin.get_actions(request))
    assert offered  # the agent does see models
    for label, actions in offered.items():
        assert "delete_selected" not in actions, label
        assert not {a for a in actions if "export" in a or "download" in a or "csv" in a}, label


# --- The other exports: permission-gated and audited -------------------------------------------


def test_the_segment_audience_download_needs_its_permission_and_is_audited(client, person):
    segment = Segment.objects.get(name="VIPs")
    audience = reverse("admin:campaigns_segment_audience", args=[segment.pk])
    viewer = StaffFactory()
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_segment"))
    client.force_login(viewer)
    assert client.get(audience).status_code == 403

    marketer = login(client, "Marketing")
    response = client.get(audience)

    assert response.status_code == 200
    b"".join(response.streaming_content)
    entry = AuditEntry.objects.get(action="segment.export")
    assert (entry.actor_id, entry.target_id, entry.details) == (
        marketer.pk,
        str(segment.pk),
        {"what": "audience"},
    )


def test_the_insights_csv_export_is_audited(client):
    staff = login(client, "Marketing")
    response = client.get(reverse("admin:insights_dashboard"), {"export": "conversion"})

    assert response.status_code == 200
    entry = AuditEntry.objects.get(action="insights.export")
    assert (entry.actor_id, entry.details["figure"]) == (staff.pk, "conversion")
