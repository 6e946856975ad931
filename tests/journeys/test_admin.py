import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from journeys.models import Enrollment, Journey, JourneyStep
from tests.channels.factories import MessageFactory
from tests.customers.factories import CustomerFactory, StaffFactory

pytestmark = pytest.mark.django_db

JOURNEYS = "admin:journeys_journey_changelist"
ENROLLMENTS = "admin:journeys_enrollment_changelist"


def login(client, role):
    user = StaffFactory(role=role)
    client.force_login(user)
    return user


def count_queries(client, url, params=None):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(queries)


def change_url(journey):
    return reverse("admin:journeys_journey_change", args=[journey.pk])


def customer_url(customer):
    return reverse("admin:customers_customer_change", args=[customer.pk])


def panel(response, name="journeys.enrollments"):
    return next(p.context for p in response.context["customer_panels"] if p.name == name)


def make_journey(key, **fields):
    journey = Journey.objects.create(
        key=key, name=fields.pop("name", key.title()), trigger_events=["Test Event"], **fields
    )
    JourneyStep.objects.create(
        journey=journey, position=0, channels=["email"], template="abandoned_cart"
    )
    return journey


def enroll(journey, customer=None, *, n=0, **fields):
    now = timezone.now()
    defaults = {
        "context_key": f"sku:{n}",
        "next_run_at": now + dt.timedelta(hours=1),
        "entered_at": now - dt.timedelta(hours=n),
    }
    return Enrollment.objects.create(
        journey=journey, customer=customer or CustomerFactory(), **{**defaults, **fields}
    )


def journey_form(journey, steps=None, **changes):
    """The change form's POST: the journey's fields, then the steps inline."""
    data = {
        "name": journey.name,
        "active": "on" if journey.active else "",
        "trigger_events": '["Checkout Started"]',
        "trigger_filter": "{}",
        "context": journey.context,
        "restart_on_trigger": "",
        "reentry_period": "",
        "exit_events": '["Order Completed"]',
        "goal_event": "Order Completed",
        "goal_window": "5 00:00:00",
    }
    data.update(changes)
    existing = list(journey.steps.order_by("position")) if journey.pk else []
    steps = steps if steps is not None else [{} for _ in existing]
    data.update(
        {
            "steps-TOTAL_FORMS": str(len(steps)),
            "steps-INITIAL_FORMS": str(len(existing)),
            "steps-MIN_NUM_FORMS": "0",
            "steps-MAX_NUM_FORMS": "1000",
        }
    )
    for n, step_changes in enumerate(steps):
        step = existing[n] if n < len(existing) else None
        row = {
            "id": step.pk if step else "",
            "journey": journey.pk or "",
            "position": step.position if step else n,
            "wait": "01:00:00",
            "condition": "",
            "channels": '["email", "sms"]',
            "template": "abandoned_cart",
            "purpose": "marketing",
            "intent": "cart",
            "discount_code": "",
            "set_stage": "",
            **step_changes,
        }
        data.update({f"steps-{n}-{name}": value for name, value in row.items()})
    return data


# --- The journey list ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["Administrator", "Marketing", "Support agent"])
@pytest.mark.parametrize("url", [JOURNEYS, ENROLLMENTS])
def test_the_journey_and_enrollment_lists_load_for_each_role(client, role, url):
    login(client, role)
    enroll(Journey.objects.get(key="abandoned_cart"))

    response = client.get(reverse(url))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= 1


@pytest.mark.parametrize("role", ["Administrator", "Marketing"])
def test_the_built_in_journey_page_loads_with_its_steps(client, role):
    login(client, role)
    journey = Journey.objects.get(key="abandoned_cart")

    response = client.get(change_url(journey))

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert [form.instance.position for form in formset.forms] == [0, 1]


def test_the_journey_list_costs_the_same_at_4_and_24_journeys(
    client, django_assert_max_num_queries
):
    login(client, "Marketing")
    url = reverse(JOURNEYS)
    client.get(url)  # warm the content-type cache
    few = count_queries(client, url)

    for n in range(20):
        journey = make_journey(f"extra_{n}")
        for m in range(3):
            enroll(journey, n=m, messages_sent=1)

    with django_assert_max_num_queries(few):
        response = client.get(url)
    assert len(response.context["cl"].result_list) == 24
    busiest = make_journey("busiest")
    for m in range(5):
        enroll(busiest, n=m)
    with django_assert_max_num_queries(few):
        by_entered = client.get(url, {"o": "-5"})  # column 5 (after the checkbox): entered
    assert by_entered.context["cl"].result_list[0] == busiest
    assert few <= 6


def test_the_list_shows_entered_sent_converted_rate_and_revenue(client):
    login(client, "Marketing")
    journey = make_journey("figures", name="Figures")
    converted = {"converted_at": timezone.now(), "revenue": Decimal("100.00")}
    enroll(journey, n=0, messages_sent=2, status="exited", reason="Order Completed", **converted)
    enroll(journey, n=1, messages_sent=1)
    enroll(journey, n=2, messages_sent=1, status="completed")
    enroll(journey, n=3, status="exited", reason="Cart emptied")

    response = client.get(reverse(JOURNEYS), {"q": "figures"})

    row = response.context["cl"].result_list[0]
    admin = response.context["cl"].model_admin
    assert (row.entered, row.sent, row.converted, row.revenue) == (4, 4, 1, Decimal("100"))
    assert admin.conversion_rate(row) == "25%"
    html = response.content.decode()
    assert "25%" in html
    assert "100" in html


def test_a_journey_nobody_entered_shows_no_rate(client):
    login(client, "Marketing")
    make_journey("quiet")

    response = client.get(reverse(JOURNEYS), {"q": "quiet"})

    row = response.context["cl"].result_list[0]
    assert (row.entered, row.sent, row.converted, row.revenue) == (0, 0, 0, None)
    admin = response.context["cl"].model_admin
    assert admin.conversion_rate(row) == admin.get_empty_value_display()


@pytest.mark.parametrize(("action", "active"), [("switch_off", False), ("switch_on", True)])
def test_marketing_switches_journeys_on_and_off(client, action, active):
    user = login(client, "Marketing")
    journey = make_journey("toggle", active=not active)

    response = client.post(
        reverse(JOURNEYS), {"action": action, "_selected_action": [journey.pk]}, follow=True
    )

    journey.refresh_from_db()
    assert response.status_code == 200
    assert journey.active is active
    assert LogEntry.objects.filter(user=user, object_id=str(journey.pk)).exists()


def test_a_journey_without_steps_is_not_switched_on(client):
    login(client, "Marketing")
    journey = Journey.objects.create(key="empty", name="Empty", active=False)

    client.post(reverse(JOURNEYS), {"action": "switch_on", "_selected_action": [journey.pk]})

    journey.refresh_from_db()
    assert journey.active is False


# --- The change form ----------------------------------------------------------------------------


def test_marketing_saves_a_journey_and_its_steps(client):
    login(client, "Marketing")
    journey = Journey.objects.get(key="abandoned_cart")

    response = client.post(
        change_url(journey),
        journey_form(journey, [{}, {"channels": '["sms"]', "wait": "1 00:00:00"}]),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    journey.refresh_from_db()
    steps = list(journey.steps.order_by("position"))
    assert journey.trigger_events == ["Checkout Started"]
    assert [s.channels for s in steps] == [["email", "sms"], ["sms"]]
    assert steps[1].wait == dt.timedelta(days=1)
    assert journey.key == "abandoned_cart"


def test_marketing_adds_a_journey_with_its_first_step(client):
    login(client, "Marketing")
    add = reverse("admin:journeys_journey_add")
    draft = Journey(key="", name="Welcome", context="none")

    page = client.get(add)
    response = client.post(
        add,
        {
            **journey_form(draft, [{"template": "post_purchase", "wait": "0"}]),
            "key": "welcome",
            "trigger_events": '["Signed Up", " Signed Up "]',
        },
    )

    assert len(page.context["inline_admin_formsets"][0].formset.forms) == 1
    assert response.status_code == 302, response.context["adminform"].form.errors
    journey = Journey.objects.get(key="welcome")
    assert journey.trigger_events == ["Signed Up"]
    assert list(journey.steps.values_list("position", "template")) == [(0, "post_purchase")]


def test_only_a_journey_nobody_entered_can_be_deleted(admin_client):
    entered = make_journey("entered")
    enroll(entered)
    unused = make_journey("unused")

    refused = admin_client.post(
        reverse("admin:journeys_journey_delete", args=[entered.pk]), {"post": "yes"}
    )
    deleted = admin_client.post(
        reverse("admin:journeys_journey_delete", args=[unused.pk]), {"post": "yes"}
    )

    assert (refused.status_code, deleted.status_code) == (403, 302)
    assert Journey.objects.filter(key="entered").exists()
    assert not Journey.objects.filter(key="unused").exists()


def test_a_system_triggered_journey_saves_with_no_trigger_events(client):
    login(client, "Marketing")
    journey = Journey.objects.get(key="back_in_stock")

    response = client.post(
        change_url(journey),
        journey_form(
            journey,
            [{"channels": '["email"]', "template": "back_in_stock"}],
            trigger_events="[]",
            exit_events="",
            goal_event="",
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    journey.refresh_from_db()
    assert (journey.trigger_events, journey.exit_events) == ([], [])


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"channels": '["email", "pigeon"]'}, "Unknown channel kind: pigeon"),
        ({"channels": "[]"}, "JSON list of channel kinds"),
        ({"channels": '"email"'}, "JSON list of channel kinds"),
        ({"template": "no_such_template"}, "no_such_template"),
        ({"wait": "-1 00:00:00"}, "cannot be negative"),
    ],
)
def test_an_invalid_step_is_a_form_error_and_nothing_is_saved(client, step, message):
    login(client, "Marketing")
    journey = Journey.objects.get(key="abandoned_cart")
    before = list(journey.steps.order_by("position").values_list("channels", "template"))

    response = client.post(change_url(journey), journey_form(journey, [step, {}]))

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert message in str(formset.forms[0].errors)
    assert list(journey.steps.order_by("position").values_list("channels", "template")) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"trigger_events": '"Checkout Started"'}, "trigger_events"),
        ({"trigger_events": '["Checkout Started", 3]'}, "trigger_events"),
        ({"exit_events": '{"Order Completed": true}'}, "exit_events"),
        ({"trigger_filter": '["IRR"]'}, "trigger_filter"),
    ],
)
def test_event_lists_must_be_json_lists_of_names(client, changes, field):
    login(client, "Marketing")
    journey = Journey.objects.get(key="abandoned_cart")

    response = client.post(change_url(journey), journey_form(journey, **changes))

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors


def test_an_active_journey_needs_a_step(client):
    login(client, "Marketing")
    journey = Journey.objects.get(key="browse_abandonment")

    response = client.post(change_url(journey), journey_form(journey, [{"DELETE": "on"}]))

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert "at least one step" in str(formset.non_form_errors())
    assert journey.steps.count() == 1


def test_a_support_agent_cannot_change_a_journey(client):
    login(client, "Support agent")
    journey = Journey.objects.get(key="abandoned_cart")

    page = client.get(change_url(journey))
    response = client.post(change_url(journey), journey_form(journey, name="Hijacked"))
    action = client.post(
        reverse(JOURNEYS), {"action": "switch_off", "_selected_action": [journey.pk]}
    )

    journey.refresh_from_db()
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert response.status_code == 403
    assert (journey.name, journey.active) == ("Abandoned cart", True)
    assert action.status_code in (200, 302)  # the action is not offered: nothing done


# --- The enrollment monitor ---------------------------------------------------------------------


def test_the_due_filter_lists_only_active_enrollments_that_are_due(client):
    login(client, "Support agent")
    journey = Journey.objects.get(key="browse_abandonment")
    past = timezone.now() - dt.timedelta(minutes=5)
    due = enroll(journey, n=0, next_run_at=past)
    later = enroll(journey, n=1)
    finished = enroll(journey, n=2, status="exited", next_run_at=past)  # stale time, not due
    unscheduled = enroll(journey, n=3, status="completed", next_run_at=None)

    def shown(value):
        response = client.get(reverse(ENROLLMENTS), {"due": value})
        return set(response.context["cl"].result_list)

    assert shown("now") == {due}
    assert shown("later") == {later}
    assert shown("unscheduled") == {unscheduled}
    assert finished not in shown("now")


def test_the_enrollment_list_costs_the_same_at_3_and_33_enrollments(
    client, django_assert_max_num_queries
):
    login(client, "Support agent")
    url = reverse(ENROLLMENTS)
    journey = Journey.objects.get(key="browse_abandonment")
    for n in range(3):
        enroll(journey, n=n)
    client.get(url)
    few = count_queries(client, url, {"due": "later"})

    for n in range(3, 33):
        enroll(journey, n=n)

    with django_assert_max_num_queries(few):
        response = client.get(url, {"due": "later"})
    assert len(response.context["cl"].result_list) == 33
    assert few <= 7


def test_nobody_adds_changes_or_deletes_enrollments_and_the_page_lists_its_messages(admin_client):
    journey = Journey.objects.get(key="abandoned_cart")
    enrollment = enroll(journey, messages_sent=1, step=1)
    message = MessageFactory(
        customer=enrollment.customer, idempotency_key=f"journey:{enrollment.pk}:0"
    )
    other = MessageFactory(customer=enrollment.customer, idempotency_key="journey:999999:0")

    page = admin_client.get(reverse("admin:journeys_enrollment_change", args=[enrollment.pk]))
    add = admin_client.get(reverse("admin:journeys_enrollment_add"))
    delete = admin_client.post(reverse("admin:journeys_enrollment_delete", args=[enrollment.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="_save"' not in html
    assert reverse("admin:channels_message_change", args=[message.pk]) in html
    assert reverse("admin:channels_message_change", args=[other.pk]) not in html
    assert (add.status_code, delete.status_code) == (403, 403)
    assert Enrollment.objects.filter(pk=enrollment.pk).exists()


# --- The customer page panel --------------------------------------------------------------------


def test_the_customer_page_shows_an_active_enrollment_in_the_viewers_time_zone(client):
    login(client, "Support agent")
    customer = CustomerFactory()
    enroll(
        Journey.objects.get(key="abandoned_cart"),
        customer,
        context_key="cart:42",
        step=1,
        next_run_at=dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC),
    )
    enroll(
        Journey.objects.get(key="browse_abandonment"),
        customer,
        status="exited",
        reason="Cart emptied",
        next_run_at=None,
        finished_at=timezone.now(),
    )
    client.cookies["crm_tz"] = "Asia/Tehran"

    response = client.get(customer_url(customer))

    context = panel(response)
    assert [row["enrollment"].context_key for row in context["active"]] == ["cart:42"]
    assert context["active"][0]["next_step"] == 2
    html = response.content.decode()
    section = html[html.index('id="customer-journeys"') : html.index('id="timeline"')]
    assert "Abandoned cart" in section
    assert "cart:42" in section
    assert 'datetime="2030-01-01T15:30:00+03:30"' in section
    assert "Browse abandonment" in section
    assert "Cart emptied" in section


def test_the_customer_page_costs_the_same_with_1_and_40_enrollments(
    client, django_assert_max_num_queries
):
    login(client, "Support agent")
    small, big = CustomerFactory(), CustomerFactory()
    journeys = list(Journey.objects.all())
    enroll(journeys[0], small)
    for n in range(40):
        journey = journeys[n % len(journeys)]
        if n < 25:
            enroll(journey, big, n=n)
        else:
            enroll(journey, big, n=n, status="completed", finished_at=timezone.now())
    client.get(customer_url(CustomerFactory()))  # warm the content-type cache

    baseline = count_queries(client, customer_url(small))

    with django_assert_max_num_queries(baseline):
        response = client.get(customer_url(big))
    context = panel(response)
    assert (len(context["active"]), context["active_more"]) == (20, True)
    assert (len(context["finished"]), context["finished_more"]) == (10, True)


def test_the_panel_shows_in_persian_right_to_left(client):
    login(client, "Support agent")
    customer = CustomerFactory()
    enroll(Journey.objects.get(key="abandoned_cart"), customer)

    response = client.get(customer_url(customer), HTTP_ACCEPT_LANGUAGE="fa")

    html = response.content.decode()
    assert 'dir="rtl"' in html
    assert 'id="customer-journeys"' in html


def test_a_merged_profile_has_no_journeys_panel(client):
    login(client, "Support agent")
    survivor = CustomerFactory()
    tombstone = CustomerFactory(merged_into=survivor)

    response = client.get(customer_url(tombstone))

    assert "journeys.enrollments" not in [p.name for p in response.context["customer_panels"]]
