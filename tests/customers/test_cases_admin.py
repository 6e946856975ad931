import datetime as dt

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from channels.inbound import receive_reply
from channels.models import Channel, Message
from customers import cases
from customers.models import Case
from tests.channels.factories import ChannelFactory
from tests.customers.factories import CustomerFactory, IdentityFactory, StaffFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
QUEUE = reverse("admin:customers_case_changelist")


def make_case(opened_hours_ago, *, assignee=None, answered=False, status="open", **extra):
    case = Case.objects.create(
        customer=extra.pop("customer", None) or CustomerFactory(),
        subject=extra.pop("subject", "Help"),
        opened_at=NOW - dt.timedelta(hours=opened_hours_ago),
        assignee=assignee,
        status=status,
        first_response_at=NOW - dt.timedelta(hours=opened_hours_ago - 0.5) if answered else None,
        resolved_at=NOW if status == "resolved" else None,
        **extra,
    )
    return case


@pytest.fixture
def agent(client):
    user = StaffFactory(role="Support agent")
    client.force_login(user)
    return user


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def fixture_cases(agent):
    """Hand-made queue at NOW with SLA 4 h: which case is mine, unassigned and overdue."""
    other = StaffFactory()
    return {
        "mine_overdue": make_case(5, assignee=agent),
        "mine_fresh": make_case(1, assignee=agent),
        "mine_answered_old": make_case(8, assignee=agent, answered=True),
        "nobody_overdue": make_case(4.1),
        "nobody_edge": make_case(4),  # exactly the SLA: not overdue yet
        "other_overdue_waiting": make_case(30, assignee=other, status="waiting"),
        "resolved_old": make_case(50, status="resolved"),
    }


def names(fixture_cases, queryset):
    by_pk = {case.pk: name for name, case in fixture_cases.items()}
    return sorted(by_pk[pk] for pk in queryset.values_list("pk", flat=True))


# --- Selectors against the hand-computed queue -------------------------------------------------


def test_queue_selectors(fixture_cases, agent, settings):
    settings.CASE_FIRST_RESPONSE_SLA_HOURS = 4

    assert names(fixture_cases, cases.queue(now=NOW)) == sorted(
        set(fixture_cases) - {"resolved_old"}
    )
    assert names(fixture_cases, cases.queue(assignee=agent, now=NOW)) == [
        "mine_answered_old",
        "mine_fresh",
        "mine_overdue",
    ]
    assert names(fixture_cases, cases.queue(unassigned=True)) == ["nobody_edge", "nobody_overdue"]
    assert names(fixture_cases, cases.queue(overdue=True, now=NOW)) == [
        "mine_overdue",
        "nobody_overdue",
        "other_overdue_waiting",
    ]
    assert names(fixture_cases, Case.objects.filter(cases.overdue_q(NOW))) == [
        "mine_overdue",
        "nobody_overdue",
        "other_overdue_waiting",
    ]
    overdue = {name for name, case in fixture_cases.items() if cases.is_overdue(case, NOW)}
    assert overdue == {"mine_overdue", "nobody_overdue", "other_overdue_waiting"}


def test_the_sla_setting_moves_the_overdue_line(fixture_cases, settings):
    settings.CASE_FIRST_RESPONSE_SLA_HOURS = 24

    assert names(fixture_cases, Case.objects.filter(cases.overdue_q(NOW))) == [
        "other_overdue_waiting"
    ]
    assert not cases.is_overdue(fixture_cases["mine_overdue"], NOW)


def test_a_case_becomes_overdue_as_time_passes(agent):
    with time_machine.travel(NOW, tick=False):
        case = cases.open_case(customer=CustomerFactory(), subject="Refund")
        assert not Case.objects.filter(cases.overdue_q()).exists()
    with time_machine.travel(NOW + dt.timedelta(hours=4, minutes=1), tick=False):
        assert list(Case.objects.filter(cases.overdue_q())) == [case]
        assert cases.is_overdue(case)


def test_open_cases_of_a_customer_newest_first(agent):
    customer = CustomerFactory()
    older = make_case(5, customer=customer, assignee=agent)
    newer = make_case(1, customer=customer, status="waiting")
    make_case(0.5, customer=customer, status="resolved")
    make_case(0.2)

    assert list(cases.open_cases(customer)) == [newer, older]


# --- The queue page ----------------------------------------------------------------------------


def queue_pks(response):
    return {case.pk for case in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"mine_overdue", "mine_fresh", "mine_answered_old", "nobody_overdue", "nobody_edge",
              "other_overdue_waiting"}),
        ("?assigned=mine", {"mine_overdue", "mine_fresh", "mine_answered_old"}),
        ("?assigned=nobody", {"nobody_overdue", "nobody_edge"}),
        ("?sla=overdue", {"mine_overdue", "nobody_overdue", "other_overdue_waiting"}),
        ("?assigned=mine&sla=overdue", {"mine_overdue"}),
        ("?status=resolved", {"resolved_old"}),
        ("?status=waiting", {"other_overdue_waiting"}),
    ],
)  # fmt: skip
def test_the_queue_filters(client, frozen, fixture_cases, query, expected):
    response = client.get(QUEUE + query)

    assert response.status_code == 200
    assert queue_pks(response) == {fixture_cases[name].pk for name in expected}


def test_the_queue_shows_the_overdue_badge_and_links_the_customer(client, frozen, fixture_cases):
    response = client.get(QUEUE)

    html = response.content.decode()
    assert html.count('class="crm-case-overdue"') == 3
    customer = fixture_cases["mine_fresh"].customer
    assert reverse("admin:customers_customer_change", args=[customer.pk]) in html


def test_the_queue_renders_in_persian(client, frozen, fixture_cases):
    response = client.get(QUEUE, HTTP_ACCEPT_LANGUAGE="fa")

    assert response.status_code == 200
    assert 'dir="rtl"' in response.content.decode()


def test_the_queue_search_finds_subject_and_customer_phone(client, frozen, agent):
    customer = CustomerFactory()
    IdentityFactory(customer=customer, kind="phone", value="+989121234567")
    by_phone = make_case(1, customer=customer, subject="Parcel")
    by_subject = make_case(1, subject="Refund for order 7")

    assert queue_pks(client.get(QUEUE + "?q=۰۹۱۲۱۲۳۴۵۶۷")) == {by_phone.pk}
    assert queue_pks(client.get(QUEUE + "?q=refund")) == {by_subject.pk}


def test_the_queue_page_query_count_does_not_grow_with_cases(
    client, frozen, agent, django_assert_max_num_queries
):
    for n in range(3):
        make_case(n + 1, assignee=agent if n % 2 else None)
    with django_assert_max_num_queries(12) as few:
        client.get(QUEUE)
    for n in range(30):
        make_case(n + 1, assignee=agent if n % 2 else StaffFactory())
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(QUEUE)
    assert len(queue_pks(response)) == 33


# --- Actions -----------------------------------------------------------------------------------


def act(client, action, *selected):
    return client.post(
        QUEUE, {"action": action, "_selected_action": [c.pk for c in selected]}, follow=True
    )


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_assign_to_me(client, frozen, agent):
    one, two = make_case(1), make_case(2, assignee=StaffFactory())

    response = act(client, "assign_to_me", one, two)

    assert set(Case.objects.values_list("assignee", flat=True)) == {agent.pk}
    assert "2 cases are now yours." in messages_of(response)


def test_resolve_and_ask_sends_the_request_and_says_who_could_not_be_asked(client, agent):
    ChannelFactory(kind=Channel.Kind.SMS)
    reachable = CustomerFactory(locale="en")
    IdentityFactory(customer=reachable, kind="phone", value="+989121234567")
    asked = cases.open_case(customer=reachable, subject="Zip broken", channel="sms")
    unreachable = cases.open_case(customer=CustomerFactory(), subject="No address")

    response = act(client, "resolve_and_ask", asked, unreachable)

    assert set(Case.objects.values_list("status", flat=True)) == {"resolved"}
    message = Message.objects.get(status="queued")
    assert message.idempotency_key == f"case-csat:{asked.pk}"
    assert "“Zip broken” is resolved" in message.text
    shown = messages_of(response)
    assert "2 cases resolved." in shown
    assert "Satisfaction asked for 1 case." in shown
    assert any(m.startswith("Satisfaction not asked for “No address”") for m in shown)


def test_resolve_without_asking_sends_nothing(client, agent):
    ChannelFactory(kind=Channel.Kind.SMS)
    customer = CustomerFactory()
    IdentityFactory(customer=customer, kind="phone", value="+989121234567")
    case = cases.open_case(customer=customer, subject="Zip")

    act(client, "resolve_quietly", case)

    case.refresh_from_db()
    assert (case.status, case.csat_requested_at) == ("resolved", None)
    assert not Message.objects.exists()


# --- The case page -----------------------------------------------------------------------------


def change_url(case):
    return reverse("admin:customers_case_change", args=[case.pk])


def test_the_case_page_shows_its_conversation(client, agent):
    channel = ChannelFactory(kind=Channel.Kind.SMS)
    customer = CustomerFactory()
    IdentityFactory(customer=customer, kind="phone", value="+989121234567")
    receive_reply(channel, sender="+989121234567", text="My zip broke", provider_id="a")
    receive_reply(channel, sender="+989121234567", text="Photo attached", provider_id="b")
    case = Case.objects.get()

    response = client.get(change_url(case))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="case-timeline"' in html
    assert "My zip broke" in html
    assert "Photo attached" in html


def test_the_case_page_changes_go_through_the_rules(client, agent):
    case = make_case(1, subject="Zip")
    form = {"subject": "Zip broken", "status": "waiting", "priority": "3", "assignee": agent.pk}

    response = client.post(change_url(case), form)

    case.refresh_from_db()
    assert response.status_code == 302
    assert (case.subject, case.status, case.priority, case.assignee) == (
        "Zip broken",
        "waiting",
        3,
        agent,
    )


def test_the_case_page_resolves_and_asks_when_ticked(client, agent):
    ChannelFactory(kind=Channel.Kind.SMS)
    customer = CustomerFactory()
    IdentityFactory(customer=customer, kind="phone", value="+989121234567")
    case = cases.open_case(customer=customer, subject="Zip")
    form = {"subject": "Zip", "status": "resolved", "priority": "2", "ask_satisfaction": "on"}

    client.post(change_url(case), form)

    case.refresh_from_db()
    assert case.status == "resolved"
    assert case.csat_requested_at is not None
    assert Message.objects.get().idempotency_key == f"case-csat:{case.pk}"


def test_a_resolved_case_page_refuses_a_move_back_and_records_a_phone_score(client, agent):
    case = make_case(3, status="resolved")

    page = client.get(change_url(case))
    client.post(change_url(case), {"csat_score": "4", "csat_comment": "ok"})

    assert page.status_code == 200
    assert 'name="status"' not in page.content.decode()  # read-only once resolved
    case.refresh_from_db()
    assert (case.csat_score, case.csat_comment) == (4, "ok")
    assert case.interactions.get(name="Satisfaction Rated").agent == agent


def test_an_agent_adds_a_case_by_hand(client, agent):
    customer = CustomerFactory()
    form = {"customer": customer.pk, "subject": "Walk-in", "channel": "store", "priority": "2"}

    response = client.post(reverse("admin:customers_case_add"), form)

    assert response.status_code == 302
    case = Case.objects.get()
    assert (case.customer, case.subject, case.status, case.channel) == (
        customer,
        "Walk-in",
        "open",
        "store",
    )


def test_a_bad_form_shows_its_errors(client, agent):
    case = make_case(1)
    bad = client.post(change_url(case), {"subject": "", "status": "closed", "priority": "9"})

    assert bad.status_code == 200
    errors = bad.context["adminform"].form.errors
    assert {"subject", "status", "priority"} <= set(errors)


# --- Roles -------------------------------------------------------------------------------------


def test_marketing_sees_no_cases(client):
    client.force_login(StaffFactory(role="Marketing"))

    assert client.get(QUEUE).status_code == 403


def test_support_agents_may_view_add_and_change_but_not_delete(agent):
    assert agent.has_perms(["customers.view_case", "customers.add_case", "customers.change_case"])
    assert not agent.has_perm("customers.delete_case")


def test_an_agents_sms_reply_from_the_customer_page_answers_the_case(client, agent):
    ChannelFactory(kind=Channel.Kind.SMS)
    customer = CustomerFactory()
    IdentityFactory(customer=customer, kind="phone", value="+989121234567")
    with time_machine.travel(NOW, tick=False):
        case = cases.open_case(customer=customer, subject="Zip")
    send = reverse("admin:channels_message_send", args=[customer.pk])

    with time_machine.travel(NOW + dt.timedelta(minutes=20), tick=False):
        client.post(send, {"kind": "sms", "text": "On its way", "token": "t" * 32})

    case.refresh_from_db()
    assert case.first_response_at == NOW + dt.timedelta(minutes=20)
    assert (case.status, case.assignee) == ("waiting", agent)
    assert timezone.is_aware(case.first_response_at)


def test_logging_a_call_on_the_customer_page_opens_a_case(client, agent):
    customer = CustomerFactory()
    log = reverse("admin:customers_customer_log", args=[customer.pk])
    call = {"type": "call", "channel": "phone", "direction": "in", "summary": "Asked for refund"}

    response = client.post(log, call, follow=True)

    case = Case.objects.get()
    assert (case.subject, case.assignee) == ("Asked for refund", agent)
    assert case.first_response_at is not None
    assert "Logged “Asked for refund” on the case “Asked for refund”." in messages_of(response)
