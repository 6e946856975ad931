"""A support agent working in Persian, in a real browser: switches the admin to فارسی, finds a
customer by a phone number typed with Persian digits, reads the timeline the web shop, the app
and the store wrote, logs the call and answers by SMS. Every page reads right to left."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from channels.backends import locmem
from channels.models import Channel, Message
from customers import services
from customers.admin.base import channel_badge
from customers.models import Interaction
from customers.roles import SUPPORT_AGENT
from tests.customers.factories import (
    CustomerFactory,
    IdentityFactory,
    InteractionFactory,
    StaffFactory,
)
from tests.e2e.conftest import assert_left_to_right, assert_right_to_left, box, log_in

PHONE = "+989123456789"
PHONE_TYPED = "۰۹۱۲۳۴۵۶۷۸۹"  # 09123456789 as a Persian keyboard types it
CALL = "تماس درباره‌ی مرجوعی شال آبی"
REPLY = "سلام سارا، مرجوعی شال شما ثبت شد و تا دو روز دیگر پیک می‌آید."


@pytest.fixture
def sara():
    """A customer the web shop, the app and the store all know, and a near namesake."""
    sara = CustomerFactory(
        first_name="سارا", last_name="رضایی", locale="fa", time_zone="Asia/Tehran"
    )
    IdentityFactory(customer=sara, kind="phone", value=PHONE)
    IdentityFactory(customer=sara, kind="email", value="sara.rezaei@example.org")
    now = timezone.now()
    for minutes, channel, name, summary in [
        (90, "web", "Product Viewed", "شال آبی را در سایت دید"),
        (60, "app", "Product Added", "شال آبی را در اپلیکیشن به سبد افزود"),
        (30, "store", "Order Completed", "شال آبی را در فروشگاه تجریش خرید"),
    ]:
        InteractionFactory(
            customer=sara,
            channel=channel,
            name=name,
            summary=summary,
            occurred_at=now - timedelta(minutes=minutes),
        )
    other = CustomerFactory(first_name="سارا", last_name="محمدی", locale="fa")
    IdentityFactory(customer=other, kind="phone", value="+989121111111")
    services.refresh_search_text([sara.pk, other.pk])
    return sara


@pytest.fixture
def sms_channel():
    locmem.reset()
    return Channel.objects.create(
        name="SMS", kind="sms", backend="channels.backends.locmem.LocmemBackend", sender="3000"
    )


def test_a_persian_agent_finds_a_customer_by_phone_logs_a_call_and_answers_by_sms(
    sara, sms_channel, open_page, shoot, run_tasks_inline
):
    agent = StaffFactory(username="maryam", first_name="مریم", role=SUPPORT_AGENT)
    page = open_page(locale="en-US", time_zone="Asia/Tehran")
    log_in(page, agent)
    assert_left_to_right(page)

    # The agent switches the back office to Persian with the language menu in the header.
    page.select_option("#crm-language-select", "fa")
    page.click(".crm-language button[type=submit]")
    page.wait_for_function("document.documentElement.lang === 'fa'")
    assert_right_to_left(page)
    shoot(page, "index-in-persian")

    # Finds the customer by the phone the caller reads out, typed in Persian digits.
    page.goto("/admin/customers/customer/")
    page.fill("#searchbar", PHONE_TYPED)
    page.press("#searchbar", "Enter")
    page.wait_for_url("**/admin/customers/customer/?q=*")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert "سارا رضایی" in rows.first.inner_text()
    assert_right_to_left(page)
    # The result table reads right to left: its first column (the selection box) is rightmost.
    first, second = (box(page, f"#result_list thead th:nth-child({n})") for n in (1, 2))
    assert first["left"] > second["left"]
    shoot(page, "found-by-persian-digits")

    # Opens the single customer view: the timeline has what the web, app and store wrote.
    rows.first.locator("th a, td a").first.click()
    page.wait_for_url(re.compile(rf"/admin/customers/customer/{sara.pk}/change/"))
    assert_right_to_left(page)
    timeline = page.locator("#timeline")
    with translation.override("fa"):
        labels = {c: str(channel_badge(c)["label"]) for c in ("web", "app", "store", "sms")}
    channels_shown = timeline.locator(".crm-timeline-row .crm-channel-label").all_inner_texts()
    assert {labels["web"], labels["app"], labels["store"]} <= set(channels_shown)
    for summary in ("در سایت دید", "در اپلیکیشن به سبد افزود", "در فروشگاه تجریش خرید"):
        assert summary in timeline.inner_text()
    # The timeline's first column (the channel) sits to the right of the second (when).
    channel_cell, when_cell = (box(page, f"#timeline thead th:nth-child({n})") for n in (1, 2))
    assert channel_cell["left"] > when_cell["left"]
    shoot(page, "customer-timeline")

    # Logs the call she is on.
    form = page.locator("#log-interaction-form")
    form.locator("#log-type").select_option("call")
    form.locator("#log-channel").select_option("phone")
    form.locator("#log-direction").select_option("in")
    form.locator("#log-summary").fill(CALL)
    form.locator("#log-details").fill("مشتری رسید خرید را دارد؛ شال را پس می‌دهد.")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/admin/customers/customer/{sara.pk}/change/"))
    assert CALL in page.locator(".messagelist .success").inner_text()
    newest = page.locator("#timeline .crm-timeline-row").first
    assert CALL in newest.inner_text()
    assert "مریم" in newest.inner_text()  # the agent who logged it
    call = Interaction.objects.get(customer=sara, summary=CALL)
    assert (call.type, call.channel, call.direction, call.agent) == ("call", "phone", "in", agent)
    shoot(page, "call-logged")

    # Answers by SMS from the same page; the message goes out at once.
    form = page.locator("#send-message-form")
    form.locator("#send-kind").select_option("sms")
    form.locator("#send-text").fill(REPLY)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/admin/customers/customer/{sara.pk}/change/"))
    assert PHONE in page.locator(".messagelist .success").inner_text()
    assert [(sent.kind, sent.to, sent.text) for sent in locmem.outbox] == [("sms", PHONE, REPLY)]
    message = Message.objects.get(customer=sara, kind="sms")
    assert (message.status, message.purpose) == (Message.Status.SENT, "transactional")
    assert REPLY in page.locator("#timeline").inner_text()
    sms_rows = page.locator("#timeline .crm-timeline-row", has_text=REPLY)
    assert labels["sms"] in sms_rows.first.inner_text()
    assert_right_to_left(page)
    # The typed Persian reply reads right to left in its own row as well.
    assert page.evaluate(
        "(text) => [...document.querySelectorAll('#timeline .crm-summary span')]"
        ".filter(s => s.textContent.includes(text))"
        ".every(s => getComputedStyle(s).direction === 'rtl')",
        REPLY[:10],
    )
    page.locator("#timeline").scroll_into_view_if_needed()
    shoot(page, "sms-answered")
