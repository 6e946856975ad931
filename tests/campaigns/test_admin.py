import csv
import hashlib
import io
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns.models import Segment, SegmentMember
from tests.customers.factories import (
    ConsentFactory,
    CustomerFactory,
    IdentityFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db

SEGMENTS = reverse("admin:campaigns_segment_changelist")
ADD = reverse("admin:campaigns_segment_add")
PREVIEW = reverse("admin:campaigns_segment_preview")
BUYERS = {"all": [{"field": "order_count", "op": "gte", "value": 1}]}


def login(client, role):
    user = StaffFactory(role=role)
    client.force_login(user)
    return user


@pytest.fixture
def marketer(client):
    return login(client, "Marketing")


def url(name, segment):
    return reverse(f"admin:campaigns_segment_{name}", args=[segment.pk])


def form(rules, **fields):
    return {
        "name": "Tea lovers",
        "description": "",
        "kind": "dynamic",
        "rules": json.dumps(rules),
        **fields,
    }


def preview(client, rules, **extra):
    return client.post(
        PREVIEW, json.dumps({"rules": rules, **extra}), content_type="application/json"
    )


def buyers(n, orders=2):
    """n customers with orders and an email each, plus two who never ordered."""
    people = CustomerFactory.create_batch(n, order_count=orders)
    for person in people:
        IdentityFactory(customer=person)
    CustomerFactory.create_batch(2, order_count=0)
    return people


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- List and permissions -------------------------------------------------------------------------


def test_marketing_sees_the_list_with_kind_and_description_but_no_member_count(client, marketer):
    Segment.objects.create(name="Buyers", description="Ordered once or more", rules=BUYERS)
    Segment.objects.create(name="VIP list", kind="static")

    response = client.get(SEGMENTS)

    assert response.status_code == 200
    content = response.content.decode()
    assert "Buyers" in content
    assert "Ordered once or more" in content
    assert "Fixed list" in content
    assert "members" not in response.context["cl"].list_display


def test_the_list_searches_by_name_and_filters_by_kind(client, marketer):
    Segment.objects.create(name="Buyers", rules=BUYERS)
    Segment.objects.create(name="VIP list", kind="static")

    found = client.get(SEGMENTS, {"q": "buy"}).context["cl"].result_list
    static = client.get(SEGMENTS, {"kind__exact": "static"}).context["cl"].result_list

    assert [s.name for s in found] == ["Buyers"]
    assert [s.name for s in static] == ["VIP list"]


@pytest.mark.parametrize(
    "path",
    [
        lambda s: SEGMENTS,
        lambda s: ADD,
        lambda s: url("change", s),
        lambda s: url("export", s),
        lambda s: url("audience", s),
    ],
    ids=["list", "add", "change", "export", "audience"],
)
def test_a_support_agent_sees_nothing_of_segments(client, path):
    segment = Segment.objects.create(name="Buyers", rules=BUYERS)
    login(client, "Support agent")

    assert client.get(path(segment)).status_code == 403


def test_a_support_agent_cannot_preview_or_import(client):
    segment = Segment.objects.create(name="VIP list", kind="static")
    login(client, "Support agent")

    assert preview(client, BUYERS).status_code == 403
    upload = SimpleUploadedFile("list.csv", b"email\na@example.org\n", "text/csv")
    assert client.post(url("import", segment), {"file": upload}).status_code == 403
    assert not SegmentMember.objects.exists()


# --- The form and the builder ---------------------------------------------------------------------


def test_a_marketer_creates_a_dynamic_segment_with_the_builders_rules(client, marketer):
    rules = {
        "all": [
            {"field": "consent", "channel": "email", "op": "granted"},
            {
                "field": "event",
                "name": "Product Viewed",
                "properties": {"sku": "TEA-1"},
                "op": "at_least",
                "count": 2,
                "days": 7,
            },
            {
                "any": [
                    {"field": "stage", "op": "in", "value": ["consideration"]},
                    {"field": "order_count", "op": "eq", "value": 0},
                ]
            },
        ]
    }

    response = client.post(ADD, form(rules, description="Viewed tea twice"), follow=True)

    assert response.status_code == 200
    segment = Segment.objects.get(name="Tea lovers")
    assert segment.rules == rules
    assert segment.description == "Viewed tea twice"
    assert segment.created_by == marketer
    assert any("Tea lovers" in m for m in messages_of(response))


def test_invalid_rules_show_every_problem_on_the_form_and_save_nothing(client, marketer):
    rules = {
        "all": [
            {"field": "event", "name": "Product Viewed", "op": "at_least", "count": 0, "days": 7},
            {"any": [{"field": "stage", "op": "in", "value": ["nowhere"]}]},
            {"field": "shoe_size", "op": "eq", "value": 42},
        ]
    }

    response = client.post(ADD, form(rules))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["rules"]
    assert len(errors) == 3
    assert errors[0].startswith("rules.all[0] (event): count must be")
    assert errors[1].startswith("rules.all[1].any[0] (stage): value must be a list of stages")
    assert "shoe_size" in errors[2]
    assert "rules.all[1].any[0] (stage)" in response.content.decode()
    assert not Segment.objects.exists()


@pytest.mark.parametrize("text", ['{"all": [', "[1, 2]"], ids=["not-json", "not-an-object"])
def test_rules_that_are_not_a_tree_are_a_form_error_not_a_crash(client, marketer, text):
    response = client.post(ADD, {**form({}), "rules": text})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["rules"]
    assert not Segment.objects.exists()


def test_a_segment_may_not_include_itself(client, marketer):
    segment = Segment.objects.create(name="Loop", rules=BUYERS)
    rules = {"all": [{"field": "segment", "op": "in", "value": segment.pk}]}

    response = client.post(url("change", segment), form(rules, name="Loop"))

    assert response.status_code == 200
    assert "includes itself" in str(response.context["adminform"].form.errors["rules"])
    segment.refresh_from_db()
    assert segment.rules == BUYERS


def test_a_pasted_export_file_imports_its_rules(client, marketer):
    exported = {"name": "Elsewhere", "description": "", "kind": "dynamic", "rules": BUYERS}

    client.post(ADD, form(exported))

    assert Segment.objects.get(name="Tea lovers").rules == BUYERS


def test_a_static_segment_ignores_the_rules_box(client, marketer):
    data = {**form({}, kind="static"), "rules": "not json at all"}

    response = client.post(ADD, data, follow=True)

    assert response.status_code == 200
    segment = Segment.objects.get(name="Tea lovers")
    assert segment.kind == "static"
    assert segment.rules == {}


def test_the_builder_script_exists_and_the_page_carries_it_with_its_choices(client, marketer):
    script = Path(settings.BASE_DIR) / "static" / "campaigns" / "segment_builder.js"
    assert script.is_file()
    other = Segment.objects.create(name="Buyers", rules=BUYERS)

    response = client.get(ADD)

    content = response.content.decode()
    assert "campaigns/segment_builder.js" in content
    assert 'id="segment-builder-choices"' in content
    assert f'data-preview-url="{PREVIEW}"' in content
    choices = response.context["segment_builder"]
    fields = {spec["value"]: spec for spec in choices["fields"]}
    assert set(fields) >= {"first_name", "stage", "trait", "consent", "event", "cart", "segment"}
    assert ["consideration", "Consideration"] in [list(c) for c in choices["stages"]]
    assert "email" in [c[0] for c in choices["channels"]]
    assert [other.pk, "Buyers"] in [list(s) for s in choices["segments"]]


def test_the_builder_choices_are_translated(client, marketer):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fa"
    with_fa = client.get(ADD)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with_en = client.get(ADD)

    def script(response):
        found = re.search(
            r'<script id="segment-builder-choices"[^>]*>(.*?)</script>', response.content.decode()
        )
        return json.loads(found.group(1))

    assert script(with_en)["text"]["addRule"] == "Add rule"
    assert with_fa.status_code == 200
    assert 'dir="rtl"' in with_fa.content.decode()
    # Labels come from the catalog of the page's language (Django's and the customers app's).
    stages = dict(script(with_fa)["stages"])
    assert stages["consideration"] == "بررسی"
    assert dict(script(with_fa)["channels"])["email"] == "ایمیل"


# --- Live preview ---------------------------------------------------------------------------------


def test_the_preview_counts_and_samples_the_matching_customers(client, marketer):
    people = buyers(3)

    response = preview(client, BUYERS)

    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 3
    assert "3 customers match" in data["summary"]
    assert {row["url"] for row in data["sample"]} == {
        reverse("admin:customers_customer_change", args=[p.pk]) for p in people
    }
    emails = {p.identities.get().value for p in people}
    assert {row["email"] for row in data["sample"]} == emails
    assert {row["name"] for row in data["sample"]} == {p.display_name for p in people}


def test_the_preview_sample_is_ten_customers_in_a_few_queries(
    client, marketer, django_assert_max_num_queries
):
    buyers(14)

    with django_assert_max_num_queries(8):
        data = preview(client, BUYERS).json()

    assert data["count"] == 14
    assert len(data["sample"]) == 10


def test_the_preview_of_bad_rules_is_a_400_with_every_problem(client, marketer):
    rules = {
        "any": [
            {"field": "order_count", "op": "gte", "value": "many"},
            {"field": "consent", "channel": "pigeon", "op": "granted"},
        ]
    }

    response = preview(client, rules)

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert len(errors) == 2
    assert errors[0].startswith("rules.any[0] (order_count):")
    assert errors[1].startswith("rules.any[1] (consent): channel must be one of")


@pytest.mark.parametrize(
    "body", [b"not json", b"[1]", b'{"rules": 5}'], ids=["text", "list", "number"]
)
def test_the_preview_answers_400_to_a_body_it_cannot_read(client, marketer, body):
    response = client.post(PREVIEW, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"]


def test_the_preview_refuses_a_segment_that_includes_itself(client, marketer):
    segment = Segment.objects.create(name="Loop", rules=BUYERS)

    response = preview(
        client, {"all": [{"field": "segment", "op": "in", "value": segment.pk}]}, segment=segment.pk
    )

    assert response.status_code == 400
    assert "includes itself" in response.json()["errors"][0]


def test_the_preview_takes_only_post(client, marketer):
    assert client.get(PREVIEW).status_code == 405


# --- The change page ------------------------------------------------------------------------------


@pytest.mark.parametrize("population", [5, 30])
def test_the_change_page_shows_the_count_and_a_sample_in_bounded_queries(
    client, marketer, django_assert_max_num_queries, population
):
    people = buyers(population)
    ConsentFactory(customer=people[0])
    segment = Segment.objects.create(name="Buyers", rules=BUYERS, created_by=marketer)

    with django_assert_max_num_queries(12):
        response = client.get(url("change", segment))

    assert response.status_code == 200
    assert response.context["members_count"] == population
    sample = response.context["members_sample"]
    assert len(sample) == min(population, 10)
    content = response.content.decode()
    assert f'data-count="{population}"' in content
    assert {row["url"] for row in sample} <= {
        reverse("admin:customers_customer_change", args=[p.pk]) for p in people
    }
    assert all(row["url"] in content and row["email"] in content for row in sample)


def test_a_static_segments_page_counts_its_list(client, marketer):
    segment = Segment.objects.create(name="VIP list", kind="static")
    for person in CustomerFactory.create_batch(2):
        SegmentMember.objects.create(segment=segment, customer=person)
    CustomerFactory()

    response = client.get(url("change", segment))

    assert response.context["members_count"] == 2
    assert 'id="segment-import"' in response.content.decode()


def test_a_segment_whose_rules_no_longer_run_says_so_instead_of_failing(client, marketer):
    gone = Segment.objects.create(name="Gone", rules=BUYERS)
    segment = Segment.objects.create(
        name="Depends", rules={"all": [{"field": "segment", "op": "in", "value": gone.pk}]}
    )
    gone_pk = gone.pk
    gone.delete()

    response = client.get(url("change", segment))

    assert response.status_code == 200
    assert response.context["members_errors"] == [f"There is no segment {gone_pk}."]


# --- JSON export ----------------------------------------------------------------------------------


def test_the_json_export_downloads_the_segment(client, marketer):
    segment = Segment.objects.create(name="Buyers", description="Ordered", rules=BUYERS)

    response = client.get(url("export", segment))

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="segment-{segment.pk}.json"'
    assert json.loads(response.content) == {
        "name": "Buyers",
        "description": "Ordered",
        "kind": "dynamic",
        "rules": BUYERS,
    }
    page = client.get(url("change", segment)).content.decode()
    assert url("export", segment) in page
    assert url("audience", segment) in page


# --- Static lists: CSV import ---------------------------------------------------------------------


def test_a_csv_upload_adds_customers_and_lists_the_rejected_lines(client, marketer):
    segment = Segment.objects.create(name="VIP list", kind="static")
    known, already = IdentityFactory(value="sara@example.org"), IdentityFactory()
    SegmentMember.objects.create(segment=segment, customer=already.customer)
    csv_file = (
        "email\nSARA@example.org\n" + already.value + "\nnobody@example.org\nnot an email\n"
    ).encode()
    upload = SimpleUploadedFile("list.csv", csv_file, "text/csv")

    response = client.post(url("import", segment), {"file": upload}, follow=True)

    assert response.status_code == 200
    assert set(SegmentMember.objects.values_list("customer_id", flat=True)) == {
        known.customer_id,
        already.customer_id,
    }
    said = " ".join(messages_of(response))
    assert "1 customer added" in said
    assert "1 was already on the list" in said
    assert "2 lines were rejected" in said
    rows = response.context["import_rejected"]["rows"]
    assert [(row["line"], row["value"]) for row in rows] == [
        (4, "nobody@example.org"),
        (5, "not an email"),
    ]
    content = response.content.decode()
    assert "nobody@example.org" in content
    assert "No customer has this identifier." in content
    # Shown once: the next visit starts clean.
    assert "import_rejected" not in client.get(url("change", segment)).context


def test_an_unusable_file_is_an_error_message(client, marketer):
    segment = Segment.objects.create(name="VIP list", kind="static")
    upload = SimpleUploadedFile("list.csv", b"shoe_size\n42\n", "text/csv")

    response = client.post(url("import", segment), {"file": upload}, follow=True)

    assert response.status_code == 200
    assert any("must name a column" in m for m in messages_of(response))
    assert not SegmentMember.objects.exists()


def test_a_dynamic_segment_takes_no_csv(client, marketer):
    segment = Segment.objects.create(name="Buyers", rules=BUYERS)
    IdentityFactory(value="sara@example.org")
    upload = SimpleUploadedFile("list.csv", b"email\nsara@example.org\n", "text/csv")

    response = client.post(url("import", segment), {"file": upload}, follow=True)

    assert any("Only a fixed list" in m for m in messages_of(response))
    assert not SegmentMember.objects.exists()
    assert "import_form" not in client.get(url("change", segment)).context


# --- The hashed audience --------------------------------------------------------------------------


def test_the_audience_download_streams_hashed_addresses(client, marketer):
    person = CustomerFactory(order_count=1)
    IdentityFactory(customer=person, value="Sara@Example.org")
    IdentityFactory(customer=CustomerFactory(order_count=0), value="other@example.org")
    segment = Segment.objects.create(name="Buyers", rules=BUYERS)

    response = client.get(url("audience", segment))

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    digest = hashlib.sha256(b"sara@example.org").hexdigest()
    assert rows == [["email", "phone"], [digest, ""]]
    assert "example.org" not in body


def test_the_audience_of_a_segment_that_cannot_run_is_a_message(client, marketer):
    gone = Segment.objects.create(name="Gone", rules=BUYERS)
    segment = Segment.objects.create(
        name="Depends", rules={"all": [{"field": "segment", "op": "in", "value": gone.pk}]}
    )
    gone_pk = gone.pk
    gone.delete()

    response = client.get(url("audience", segment), follow=True)

    assert response.status_code == 200
    assert any(f"no segment {gone_pk}" in m for m in messages_of(response))


def test_a_segment_other_rules_use_cannot_be_deleted(client):
    from tests.customers.factories import StaffFactory as Staff

    client.force_login(Staff(role="Marketing"))
    base = Segment.objects.create(name="Buyers", rules={"all": []})
    Segment.objects.create(
        name="Buyers in Tehran",
        rules={"all": [{"field": "segment", "op": "in", "value": base.pk}]},
    )
    url = reverse("admin:campaigns_segment_delete", args=[base.pk])
    page = client.get(url)
    assert "Buyers in Tehran" in page.content.decode()
    client.post(url, {"post": "yes"})
    assert Segment.objects.filter(pk=base.pk).exists()
