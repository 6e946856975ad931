import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from channels import casework
from channels.backends import locmem
from channels.inbound import receive_reply
from channels.models import Channel, Message
from customers import cases
from customers.errors import DomainError
from customers.models import Case, Interaction
from tests.channels.factories import ChannelFactory
from tests.customers.factories import CustomerFactory, IdentityFactory, StaffFactory

pytestmark = pytest.mark.django_db

PHONE = "+989121234567"
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def empty_outbox():
    locmem.outbox.clear()
    yield
    locmem.outbox.clear()


@pytest.fixture
def sms():
    return ChannelFactory(kind=Channel.Kind.SMS, name="SMS")


@pytest.fixture
def customer():
    customer = CustomerFactory(first_name="Sara", locale="fa")
    IdentityFactory(customer=customer, kind="phone", value=PHONE)
    return customer


@pytest.fixture
def agent():
    return StaffFactory(role="Support agent")


_ids = iter(range(10_000))


def reply(channel, text, *, sender=PHONE, at=None):
    with time_machine.travel(at or timezone.now(), tick=False):
        return receive_reply(channel, sender=sender, text=text, provider_id=f"p-{next(_ids)}")


def log(customer, agent, at=None, **fields):
    fields = {"channel": "phone", "summary": "Called", **fields}
    with time_machine.travel(at or timezone.now(), tick=False):
        return cases.log_interaction(customer=customer, agent=agent, **fields)


# --- Open, join, first response -----------------------------------------------------------------


def test_an_inbound_message_opens_a_case_with_the_first_80_characters_as_subject(sms, customer):
    text = "سلام، سفارش ۱۲۳ من هنوز نرسیده و " + "خیلی منتظرم " * 10

    received = reply(sms, text, at=T0)

    case = Case.objects.get()
    assert (case.customer, case.channel, case.status) == (customer, "sms", "open")
    assert case.opened_at == T0
    assert len(case.subject) == 80
    assert case.subject.startswith("سلام، سفارش ۱۲۳")
    assert case.subject.endswith("…")
    assert received.interaction.case_id == case.pk
    assert (case.first_response_at, case.assignee) == (None, None)


def test_a_second_message_joins_the_open_case(sms, customer):
    reply(sms, "My parcel is late", at=T0)
    reply(sms, "Order 123", at=T0 + dt.timedelta(minutes=5))

    case = Case.objects.get()
    assert case.subject == "My parcel is late"
    assert case.interactions.count() == 2


def test_an_agents_message_is_the_first_response_and_leaves_the_case_waiting(sms, customer, agent):
    reply(sms, "My parcel is late", at=T0)
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        message = casework.send_agent_message(
            customer,
            agent=agent,
            purpose="transactional",
            content=casework.services.Content("It ships today."),
            channels=["sms"],
            idempotency_key="agent:one",
            intent="agent",
        )

    case = Case.objects.get()
    assert message.status == Message.Status.QUEUED
    assert (case.status, case.first_response_at) == ("waiting", T0 + dt.timedelta(hours=1))
    assert case.assignee == agent
    queued = Interaction.objects.get(name="Message Queued")
    assert queued.case_id == case.pk


def test_a_second_agent_message_keeps_the_first_response_time(sms, customer, agent):
    reply(sms, "Hello?", at=T0)
    for n, hours in enumerate((1, 3)):
        with time_machine.travel(T0 + dt.timedelta(hours=hours), tick=False):
            casework.send_agent_message(
                customer,
                agent=agent,
                purpose="transactional",
                content=casework.services.Content(f"Answer {n}"),
                channels=["sms"],
                idempotency_key=f"agent:{n}",
            )

    assert Case.objects.get().first_response_at == T0 + dt.timedelta(hours=1)


def test_a_suppressed_agent_message_is_no_response(customer, agent, sms):
    reply(sms, "Hello?", at=T0)
    Channel.objects.update(active=False)

    message = casework.send_agent_message(
        customer,
        agent=agent,
        purpose="transactional",
        content=casework.services.Content("Hi"),
        channels=["sms"],
        idempotency_key="agent:held",
    )

    case = Case.objects.get()
    assert message.status == Message.Status.SUPPRESSED
    assert (case.status, case.first_response_at) == ("open", None)


def test_a_customer_reply_puts_a_waiting_case_back_to_open(sms, customer, agent):
    reply(sms, "Hello?", at=T0)
    case = Case.objects.get()
    cases.set_status(case, "waiting")

    reply(sms, "Still nothing", at=T0 + dt.timedelta(hours=2))

    case.refresh_from_db()
    assert case.status == "open"
    assert Case.objects.count() == 1


def test_a_resolved_case_is_not_reopened_a_new_one_opens(sms, customer):
    reply(sms, "First problem", at=T0)
    first = Case.objects.get()
    cases.resolve(first, ask_satisfaction=False)

    reply(sms, "Another problem", at=T0 + dt.timedelta(days=1))

    first.refresh_from_db()
    second = Case.objects.exclude(pk=first.pk).get()
    assert first.status == "resolved"
    assert (second.status, second.subject) == ("open", "Another problem")


def test_an_opt_out_keyword_opens_no_case(sms, customer):
    reply(sms, "STOP")

    assert not Case.objects.exists()


def test_a_replayed_provider_message_joins_nothing_twice(sms, customer):
    receive_reply(sms, sender=PHONE, text="Hello", provider_id="same")
    receive_reply(sms, sender=PHONE, text="Hello", provider_id="same")

    assert Case.objects.get().interactions.count() == 1


@pytest.mark.parametrize(
    ("kind", "direction", "opens", "first_response"),
    [
        ("call", "in", True, True),
        ("chat", "in", True, True),
        ("message", "in", True, False),
        ("visit", "in", False, False),
        ("note", "internal", False, False),
        ("call", "out", False, False),
    ],
)
def test_what_a_logged_interaction_does_without_an_open_case(
    customer, agent, kind, direction, opens, first_response
):
    interaction, case = log(customer, agent, at=T0, type=kind, direction=direction)

    assert (case is not None) == opens
    if opens:
        assert (case.channel, case.subject, case.opened_at) == ("phone", "Called", T0)
        assert (case.first_response_at is not None) == first_response
        assert interaction.case_id == case.pk
        assert case.assignee == (agent if first_response else None)


def test_a_logged_outbound_call_answers_the_open_case_without_waiting(sms, customer, agent):
    reply(sms, "Please call me", at=T0)

    interaction, case = log(
        customer, agent, at=T0 + dt.timedelta(minutes=30), type="call", direction="out"
    )

    assert case.first_response_at == T0 + dt.timedelta(minutes=30)
    assert (case.status, case.assignee, interaction.case_id) == ("open", agent, case.pk)


def test_a_call_logged_earlier_than_the_case_answers_it_no_sooner_than_it_opened(
    sms, customer, agent
):
    reply(sms, "Please call me", at=T0)

    _interaction, case = log(
        customer, agent, at=T0 - dt.timedelta(hours=1), type="call", direction="out"
    )

    assert case.first_response_at == T0


def test_a_visit_joins_the_open_case(sms, customer, agent):
    reply(sms, "Broken zip", at=T0)

    interaction, case = log(customer, agent, type="visit", direction="in", channel="store")

    assert interaction.case_id == case.pk
    assert (case.status, case.first_response_at) == ("open", None)


# --- Staff changes ------------------------------------------------------------------------------


def test_assign_priority_and_status_moves(customer, agent):
    case = cases.open_case(customer=customer, subject="  Refund   please ", channel="phone")
    assert case.subject == "Refund please"

    cases.assign(case, agent)
    cases.set_priority(case, Case.Priority.URGENT)
    cases.set_status(case, "waiting")
    cases.set_status(case, "open")

    case.refresh_from_db()
    assert (case.assignee, case.priority, case.status) == (agent, 4, "open")


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda case: cases.set_priority(case, 9), "invalid_priority"),
        (lambda case: cases.set_status(case, "closed"), "invalid_status"),
        (lambda case: cases.set_status(case, "resolved"), "use_resolve"),
        (lambda case: cases.assign(case, StaffFactory(is_active=False)), "invalid_assignee"),
        (lambda case: cases.assign(case, StaffFactory(is_staff=False)), "invalid_assignee"),
        (lambda case: cases.record_satisfaction(case, score=4), "case_not_resolved"),
    ],
)
def test_refused_changes_say_why(customer, call, code):
    case = cases.open_case(customer=customer, subject="Refund")

    with pytest.raises(DomainError) as error:
        call(case)

    assert error.value.code == code


def test_a_resolved_case_no_longer_changes(customer, agent):
    case = cases.open_case(customer=customer, subject="Refund")
    cases.resolve(case, ask_satisfaction=False)

    for call in (
        lambda: cases.set_status(case, "open"),
        lambda: cases.assign(case, agent),
        lambda: cases.set_priority(case, 3),
        lambda: cases.resolve(case, ask_satisfaction=False),
    ):
        with pytest.raises(DomainError):
            call()


def test_opening_a_case_on_a_merged_profile_or_without_subject_is_refused(customer):
    survivor = CustomerFactory()
    customer.merged_into = survivor
    customer.save()

    with pytest.raises(DomainError) as merged:
        cases.open_case(customer=customer, subject="Hi")
    with pytest.raises(DomainError) as blank:
        cases.open_case(customer=survivor, subject="   ")

    assert (merged.value.code, blank.value.code) == ("customer_merged", "invalid_subject")


# --- Satisfaction -------------------------------------------------------------------------------


def resolve_asking(sms, customer, at=T0):
    reply(sms, "Broken zip", at=at)
    case = Case.objects.get()
    with time_machine.travel(at + dt.timedelta(hours=1), tick=False):
        resolution = cases.resolve(case, ask_satisfaction=True)
    return resolution


def test_resolving_sends_the_satisfaction_request_in_the_customers_language(
    sms, customer, django_capture_on_commit_callbacks, run_tasks_inline
):
    with django_capture_on_commit_callbacks(execute=True):
        resolution = resolve_asking(sms, customer)

    case = resolution.case
    message = Message.objects.get(idempotency_key=f"case-csat:{case.pk}")
    assert resolution.csat == cases.CsatRequest(True, channel="sms")
    assert (case.status, case.resolved_at) == ("resolved", T0 + dt.timedelta(hours=1))
    assert case.csat_requested_at == T0 + dt.timedelta(hours=1)
    assert (message.purpose, message.kind, message.to) == ("transactional", "sms", PHONE)
    assert "«Broken zip» حل شد" in message.text
    assert [m.to for m in locmem.outbox] == [PHONE]
    assert Interaction.objects.filter(case=case, name="Message Queued").exists()


def test_the_request_goes_by_email_when_the_case_came_by_email(customer):
    ChannelFactory(kind="sms")
    ChannelFactory(kind="email")
    IdentityFactory(customer=customer, kind="email", value="sara@example.org")
    case = cases.open_case(customer=customer, subject="Invoice", channel="email")

    resolution = cases.resolve(case, ask_satisfaction=True)

    assert resolution.csat.channel == "email"
    assert Message.objects.get().to == "sara@example.org"


def test_resolving_twice_asks_once(sms, customer):
    resolution = resolve_asking(sms, customer)
    cases.resolve_many([resolution.case], ask_satisfaction=True)  # already resolved: skipped

    assert casework.request_csat(resolution.case).sent  # the same key: the first message
    assert Message.objects.count() == 1


def test_a_customer_nobody_can_reach_is_not_asked_and_the_reason_is_given(customer):
    case = cases.open_case(customer=customer, subject="Refund")

    resolution = cases.resolve(case, ask_satisfaction=True)

    assert resolution.csat.sent is False
    assert "no active channel" in resolution.csat.reason
    assert Case.objects.get().csat_requested_at is None


@pytest.mark.parametrize(
    ("text", "score", "comment"),
    [
        ("5", 5, ""),
        ("۴", 4, ""),
        ("٣ kind but slow", 3, "kind but slow"),
        ("۵ - عالی بود", 5, "عالی بود"),
        (" 2/5 too slow", 2, "too slow"),
        ("1.", 1, ""),
    ],
)
def test_a_score_reply_is_stored_on_the_case_and_the_timeline(sms, customer, text, score, comment):
    case = resolve_asking(sms, customer).case

    reply(sms, text, at=T0 + dt.timedelta(days=2))

    case.refresh_from_db()
    assert (case.csat_score, case.csat_comment) == (score, comment)
    assert case.csat_answered_at == T0 + dt.timedelta(days=2)
    rated = Interaction.objects.get(name="Satisfaction Rated")
    assert (rated.case_id, rated.properties["score"], rated.channel) == (case.pk, score, "sms")
    assert Case.objects.count() == 1  # the answer opened no case


@pytest.mark.parametrize("text", ["6", "0", "10", "3.5", "۴٫۵", "thanks!", "", "five"])
def test_a_reply_that_is_no_score_is_not_stored_and_opens_a_case(sms, customer, text):
    case = resolve_asking(sms, customer).case

    reply(sms, text or " ", at=T0 + dt.timedelta(days=1))

    case.refresh_from_db()
    assert case.csat_score is None
    assert not Interaction.objects.filter(name="Satisfaction Rated").exists()
    assert Case.objects.filter(status="open").count() == 1


def test_a_score_after_the_reply_window_is_an_ordinary_message(sms, customer):
    case = resolve_asking(sms, customer).case

    reply(sms, "5", at=T0 + dt.timedelta(days=9))

    case.refresh_from_db()
    assert case.csat_score is None
    assert Case.objects.get(status="open").subject == "5"


def test_a_second_score_changes_nothing_and_opens_no_case(sms, customer):
    case = resolve_asking(sms, customer).case
    reply(sms, "2", at=T0 + dt.timedelta(days=1))
    reply(sms, "5", at=T0 + dt.timedelta(days=1, minutes=5))

    case.refresh_from_db()
    assert case.csat_score == 2
    assert Case.objects.count() == 1


def test_a_score_without_a_request_is_an_ordinary_message(sms, customer):
    reply(sms, "5", at=T0)

    assert Case.objects.get().subject == "5"


def test_staff_record_a_score_given_by_phone(customer, agent):
    case = cases.open_case(customer=customer, subject="Refund")
    cases.resolve(case, ask_satisfaction=False)

    cases.record_satisfaction(case, score=4, comment="  fine   thanks ", agent=agent)

    case.refresh_from_db()
    assert (case.csat_score, case.csat_comment) == (4, "fine thanks")
    with pytest.raises(DomainError) as again:
        cases.record_satisfaction(case, score=5)
    with pytest.raises(DomainError) as bad:
        cases.record_satisfaction(cases.open_case(customer=customer, subject="x"), score=7)
    assert (again.value.code, bad.value.code) == ("already_rated", "invalid_score")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5", (5, "")),
        ("٥ ممتاز", (5, "ممتاز")),
        ("1!!! never again", (1, "never again")),
        ("5/5", (5, "")),
        ("55", None),
        ("3,5", None),
        ("great 5", None),
        ("-", None),
    ],
)
def test_parse_score(text, expected):
    assert cases.parse_score(text) == expected
