"""The outbox: choosing a channel, the send-time rules, retries, idempotency, crashes."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import connection

from channels import services
from channels.backends import locmem
from channels.models import Channel, Message, Template
from channels.services import Content
from customers.consents import set_consent
from customers.models import Identity, Interaction
from tests.customers.concurrency import run_together
from tests.customers.factories import CustomerFactory, IdentityFactory

TEHRAN = ZoneInfo("Asia/Tehran")
# A Tuesday at noon in Tehran: inside the default 09:00–21:00 window, not a rest day.
NOON = dt.datetime(2026, 11, 24, 12, 0, tzinfo=TEHRAN)


@pytest.fixture(autouse=True)
def _clean_outbox():
    locmem.reset()
    yield
    locmem.reset()


@pytest.fixture
def email_channel(db):
    return Channel.objects.create(
        name="Email", kind="email", backend="channels.backends.locmem.LocmemBackend"
    )


@pytest.fixture
def sms_channel(db):
    return Channel.objects.create(
        name="SMS", kind="sms", backend="channels.backends.locmem.LocmemBackend"
    )


def person(*, email=True, phone=False, marketing=True, tz="Asia/Tehran", locale="fa"):
    customer = CustomerFactory(first_name="سارا", time_zone=tz, locale=locale)
    if email:
        IdentityFactory(customer=customer, kind="email", value=f"c{customer.pk}@example.org")
    if phone:
        IdentityFactory(customer=customer, kind="phone", value=f"+98912{customer.pk:07d}")
    if marketing:
        for channel in ["email"] * email + ["sms"] * phone:
            set_consent(customer, channel=channel, purpose="marketing", status="granted")
    return customer


def marketing(customer, key, *, channels=("email",), intent=""):
    return services.send(
        customer,
        purpose="marketing",
        idempotency_key=key,
        channels=channels,
        content=Content("Hello", "News"),
        intent=intent,
    )


def deliver(message, at):
    with time_machine.travel(at, tick=False):
        outcome = services.deliver(message.pk)
    message.refresh_from_db()
    return outcome


def timeline_names(customer):
    return list(
        Interaction.objects.filter(customer=customer, type="message")
        .order_by("occurred_at", "pk")
        .values_list("name", flat=True)
    )


# --- Choosing the channel -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_same_idempotency_key_twice_makes_one_message(email_channel):
    customer = person()
    first = marketing(customer, "campaign:1:1")
    second = marketing(customer, "campaign:1:1")
    assert first.pk == second.pk
    assert Message.objects.count() == 1
    assert timeline_names(customer) == ["Message Queued"]


@pytest.mark.django_db
def test_falls_back_to_the_next_channel_without_address_or_consent(email_channel, sms_channel):
    no_email = person(email=False, phone=True)
    message = marketing(no_email, "k1", channels=("email", "sms"))
    assert (message.kind, message.status, message.to) == ("sms", "queued", message.address.value)

    email_not_consented = person(phone=True, marketing=False)
    set_consent(email_not_consented, channel="sms", purpose="marketing", status="granted")
    message = marketing(email_not_consented, "k2", channels=("email", "sms"))
    assert message.kind == "sms"


@pytest.mark.django_db
def test_no_consent_anywhere_is_kept_as_suppressed_with_every_reason(email_channel, sms_channel):
    customer = person(phone=True, marketing=False)
    message = marketing(customer, "k", channels=("email", "sms"))
    assert message.status == "suppressed"
    assert message.rule == "no_channel"
    assert "email" in message.reason
    assert "sms" in message.reason
    assert timeline_names(customer) == ["Message Suppressed"]


@pytest.mark.django_db
def test_the_template_renders_in_the_customers_language_with_a_fallback(email_channel):
    Template.objects.create(key="hello", kind="email", locale="en", subject="Hi", text="Hi")
    Template.objects.create(
        key="hello",
        kind="email",
        locale="fa",
        subject="سلام {{ first_name }}",
        text="سلام {{ customer.first_name }}، {{ unsubscribe_url }}",
        html='<p>سلام</p><a href="https://shop.example/cart">سبد</a>',
    )
    persian = person()
    message = services.send(
        persian, purpose="marketing", idempotency_key="t1", channels=["email"], template="hello"
    )
    assert message.subject == "سلام سارا"
    assert "/u/" in message.text
    assert message.links == ["https://shop.example/cart"]
    english_fallback = person(locale="az")
    message = services.send(
        english_fallback, purpose="marketing", idempotency_key="t2", channels=["email"],
        template="hello",
    )  # fmt: skip
    assert message.subject == "Hi"


# --- The rules at send time -------------------------------------------------------------------


@pytest.mark.django_db
def test_an_opt_out_after_queueing_suppresses_at_send_time(email_channel):
    customer = person()
    message = marketing(customer, "k")
    set_consent(customer, channel="email", purpose="marketing", status="withdrawn")
    assert deliver(message, NOON) == "suppressed"
    assert (message.status, message.rule) == ("suppressed", "consent")
    assert locmem.outbox == []
    assert timeline_names(customer)[-1] == "Message Suppressed"


@pytest.mark.django_db
def test_quiet_hours_in_tehran_defer_to_nine_local_then_it_goes(email_channel):
    customer = person()
    message = marketing(customer, "k")
    late = dt.datetime(2026, 11, 24, 23, 0, tzinfo=TEHRAN)
    assert deliver(message, late) == "deferred"
    assert message.status == "queued"
    assert message.not_before == dt.datetime(2026, 11, 25, 9, 0, tzinfo=TEHRAN)
    assert message.rule == "send_window"
    assert "Message Deferred" in timeline_names(customer)

    # Not yet due: the sweep leaves it; at nine it hands it over and it goes.
    with time_machine.travel(dt.datetime(2026, 11, 25, 8, 59, tzinfo=TEHRAN), tick=False):
        assert services.dispatch_due() == 0
    with time_machine.travel(dt.datetime(2026, 11, 25, 9, 0, tzinfo=TEHRAN), tick=False):
        assert services.dispatch_due() == 1
    assert deliver(message, dt.datetime(2026, 11, 25, 9, 0, tzinfo=TEHRAN)) == "sent"
    assert [m.to for m in locmem.outbox] == [message.to]


@pytest.mark.django_db
def test_transactional_messages_go_at_night(email_channel):
    customer = person(marketing=False)
    message = services.send(
        customer,
        purpose="transactional",
        idempotency_key="receipt:1",
        channels=["email"],
        content=Content("Your order"),
    )
    assert deliver(message, dt.datetime(2026, 11, 24, 3, 0, tzinfo=TEHRAN)) == "sent"


@pytest.mark.django_db
def test_the_frequency_cap_suppresses_the_third_marketing_message_of_the_day_on_any_channel(
    email_channel, sms_channel
):
    customer = person(phone=True)
    first = marketing(customer, "a", channels=["email"])
    second = marketing(customer, "b", channels=["sms"])
    third = marketing(customer, "c", channels=["email"])
    assert deliver(first, NOON) == "sent"
    assert deliver(second, NOON + dt.timedelta(hours=1)) == "sent"
    assert deliver(third, NOON + dt.timedelta(hours=2)) == "suppressed"
    assert third.rule == "frequency_cap"
    assert len(locmem.outbox) == 2

    # Transactional ignores the cap, but not a hard opt-out of the address.
    receipt = services.send(
        customer, purpose="transactional", idempotency_key="r1", channels=["email"],
        content=Content("Receipt"),
    )  # fmt: skip
    assert deliver(receipt, NOON + dt.timedelta(hours=3)) == "sent"
    set_consent(customer, channel="email", purpose="transactional", status="withdrawn")
    receipt2 = services.send(
        customer, purpose="transactional", idempotency_key="r2", channels=["email"],
        content=Content("Receipt"),
    )  # fmt: skip
    assert receipt2.status == "suppressed"


@pytest.mark.django_db
def test_a_weekly_cap_that_defers_waits_for_the_oldest_message_to_leave_the_week(email_channel):
    from channels.models import FrequencyCap

    FrequencyCap.objects.update(active=False)
    FrequencyCap.objects.create(
        name="1 a week", limit=1, period=dt.timedelta(days=7), action="defer"
    )
    customer = person()
    first, second = marketing(customer, "a"), marketing(customer, "b")
    assert deliver(first, NOON) == "sent"
    assert deliver(second, NOON + dt.timedelta(days=1)) == "deferred"
    assert second.not_before == first.sending_at + dt.timedelta(days=7)


@pytest.mark.django_db
def test_arbitration_checkout_beats_cart_beats_browse_and_campaigns_yield(email_channel):
    customer = person()
    cart = marketing(customer, "cart", intent="cart")
    browse = marketing(customer, "browse", intent="browse")
    checkout = marketing(customer, "checkout", intent="checkout")
    campaign = marketing(customer, "campaign", intent="campaign")
    assert deliver(cart, NOON) == "sent"
    assert deliver(browse, NOON + dt.timedelta(minutes=5)) == "suppressed"
    assert browse.rule == "arbitration"
    assert deliver(checkout, NOON + dt.timedelta(minutes=10)) == "sent"
    assert deliver(campaign, NOON + dt.timedelta(minutes=15)) == "suppressed"
    assert "reminder" in campaign.reason

    another_cart = marketing(customer, "cart-2", intent="cart")
    assert deliver(another_cart, NOON + dt.timedelta(hours=2)) == "suppressed"


# --- Backends' answers ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_transient_error_is_retried_with_backoff_then_sent(email_channel):
    email_channel.settings = {"fail": "transient", "fail_times": 1}
    email_channel.save()
    customer = person()
    message = marketing(customer, "k")
    assert deliver(message, NOON) == "retry"
    assert (message.status, message.attempts, message.rule) == ("queued", 1, "retry")
    assert message.not_before == NOON + dt.timedelta(seconds=settings.DELIVERY_RETRY_BASE_SECONDS)
    assert deliver(message, NOON + dt.timedelta(seconds=5)) == "skipped"  # not due yet
    assert deliver(message, NOON + dt.timedelta(minutes=1)) == "sent"
    assert (message.status, message.attempts) == ("sent", 2)
    assert len(locmem.outbox) == 1


@pytest.mark.django_db
def test_a_permanent_error_fails_and_a_bounce_marks_the_address(email_channel):
    email_channel.settings = {"fail": "permanent"}
    email_channel.save()
    customer = person()
    message = marketing(customer, "k")
    assert deliver(message, NOON) == "failed"
    assert message.status == "failed"
    assert timeline_names(customer)[-1] == "Message Failed"


@pytest.mark.django_db
def test_a_hard_bounce_receipt_stops_further_sends_to_that_address(email_channel):
    customer = person()
    message = marketing(customer, "k")
    assert deliver(message, NOON) == "sent"
    assert services.record_receipt(email_channel, message.provider_id, "bounced", reason="550")
    message.refresh_from_db()
    assert message.status == "bounced"
    assert Identity.objects.get(pk=message.address_id).bounced_at is not None
    again = marketing(customer, "k2")
    assert again.status == "suppressed"


@pytest.mark.django_db
def test_every_status_change_is_on_the_timeline(email_channel):
    customer = person()
    message = marketing(customer, "k")
    deliver(message, NOON)
    with time_machine.travel(NOON + dt.timedelta(minutes=1), tick=False):
        services.record_receipt(email_channel, message.provider_id, "delivered")
    assert timeline_names(customer) == ["Message Queued", "Message Sent", "Message Delivered"]
    row = Interaction.objects.filter(customer=customer, name="Message Sent").get()
    assert (row.direction, row.channel, row.properties["message"]) == ("out", "email", message.pk)


@pytest.mark.django_db
def test_a_merge_moves_the_duplicates_messages(email_channel):
    from customers import services as customer_services

    survivor, duplicate = person(), person()
    message = marketing(duplicate, "k")
    customer_services.merge(survivor=survivor, duplicate=duplicate)
    message.refresh_from_db()
    assert message.customer_id == survivor.pk


# --- Exactly once, at least once ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_the_same_message_send_it_once(postgres_only, email_channel):
    customer = person()
    message = marketing(customer, "k")
    outcomes = []
    errors = run_together(*[lambda: outcomes.append(services.deliver(message.pk, now=NOON))] * 2)
    assert errors == []
    assert sorted(outcomes) == ["sent", "skipped"]
    assert len(locmem.outbox) == 1


CRASHING_CHILD = """
import os, sys
import django
django.setup()
from channels import services
services.deliver(int(sys.argv[1]))
"""


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_after_the_provider_call_sends_again_on_recovery(
    postgres_only, email_channel, tmp_path
):
    """At-least-once on a crash: the provider got the message, the worker died before writing
    "sent"; the row stays "sending" until the requeue sweep, and the retry sends it again."""
    journal = tmp_path / "provider.log"
    email_channel.backend = "tests.channels.crashing.JournalBackend"
    email_channel.settings = {"journal": str(journal), "die_after_send": True}
    email_channel.save()
    customer = person(marketing=False)
    message = services.send(
        customer, purpose="transactional", idempotency_key="k", channels=["email"],
        content=Content("Receipt"),
    )  # fmt: skip
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    child = subprocess.run(
        [sys.executable, "-c", CRASHING_CHILD, str(message.pk)],
        env=env,
        cwd=Path(settings.BASE_DIR),
        capture_output=True,
        timeout=60,
    )
    assert child.returncode == -9, child.stderr.decode()[-2000:]  # killed by SIGKILL
    message.refresh_from_db()
    assert message.status == "sending"
    assert journal.read_text().splitlines() == [f"sent {message.pk}"]

    # Nothing happens before the timeout: the worker might only be slow.
    assert services.requeue_stuck(now=message.sending_at + dt.timedelta(seconds=60)) == 0
    later = message.sending_at + dt.timedelta(seconds=settings.DELIVERY_SENDING_TIMEOUT_SECONDS + 1)
    assert services.requeue_stuck(now=later) == 1
    email_channel.settings = {"journal": str(journal)}
    email_channel.save()
    assert services.deliver(message.pk, now=later) == "sent"
    assert journal.read_text().splitlines() == [f"sent {message.pk}", f"sent {message.pk}"]


@pytest.mark.django_db
def test_templates_may_translate_and_write_dates_in_the_customers_calendar(email_channel):
    Template.objects.create(
        key="dated",
        kind="email",
        locale="fa",
        subject="{% load i18n %}{% translate 'Email' %}",
        text="{% load crm_dates %}{{ when|local_date:customer }}",
    )
    customer = person()
    message = services.send(
        customer,
        purpose="marketing",
        idempotency_key="dated",
        channels=["email"],
        template="dated",
        context={"when": dt.datetime(2026, 11, 22, 10, 30, tzinfo=dt.UTC)},
    )
    assert message.subject == "ایمیل"
    assert "آذر ۱۴۰۵" in message.text


@pytest.mark.django_db
def test_demo_channels_are_made_once_and_never_over_real_ones():
    from django.core.management import call_command

    call_command("demo_channels")
    call_command("demo_channels")
    assert sorted(Channel.objects.values_list("kind", flat=True)) == ["email", "sms"]
    assert set(Channel.objects.values_list("backend", flat=True)) == {
        "channels.backends.console.ConsoleBackend"
    }


@pytest.mark.django_db
def test_a_batch_is_decided_message_by_message_with_a_fixed_number_of_queries(
    email_channel, django_assert_max_num_queries
):
    """deliver_many: the second and third marketing message of one customer in the same batch
    see the first (the daily cap), an unconsented one is held, the rest go — in a few queries
    whatever the batch size."""
    busy = person()
    batch = [marketing(busy, f"busy-{n}") for n in range(3)]
    opted_out = person()
    held = marketing(opted_out, "held")
    set_consent(opted_out, channel="email", purpose="marketing", status="withdrawn")
    others = [marketing(person(), f"other-{n}") for n in range(20)]
    ids = [m.pk for m in [*batch, held, *others]]
    with time_machine.travel(NOON, tick=False), django_assert_max_num_queries(16):
        outcomes = services.deliver_many(ids)
    assert [outcomes[m.pk] for m in batch] == ["sent", "sent", "suppressed"]
    assert outcomes[held.pk] == "suppressed"
    assert all(outcomes[m.pk] == "sent" for m in others)
    assert len(locmem.outbox) == 22
    assert Message.objects.get(pk=batch[2].pk).rule == "frequency_cap"
    assert Message.objects.get(pk=held.pk).rule == "consent"
    sent_rows = Interaction.objects.filter(name="Message Sent").count()
    assert sent_rows == 22
