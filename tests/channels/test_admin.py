import datetime as dt
import json

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from channels.forms import PLACEHOLDER
from channels.models import Channel, FrequencyCap, Message, Template
from customers import services as customers
from tests.channels.factories import (
    ChannelFactory,
    MessageFactory,
    TemplateFactory,
    channel_form,
)
from tests.customers.factories import CustomerFactory, IdentityFactory, StaffFactory

pytestmark = pytest.mark.django_db

SECRETS = {
    "api_key": "sk-live-0123456789",
    "password": "hunter2-very-secret",
    "url": "https://gateway.example.com/send",
    "headers": {"Authorization": "Bearer tok-abcdef-999", "Accept": "application/json"},
}
WEBHOOK_SECRET = "whsec-keep-me-hidden"
HIDDEN = ["sk-live-0123456789", "hunter2-very-secret", "tok-abcdef-999", WEBHOOK_SECRET]


def login(client, role):
    user = StaffFactory(role=role)
    client.force_login(user)
    return user


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def customer_url(customer):
    return reverse("admin:customers_customer_change", args=[customer.pk])


def send_url(customer):
    return reverse("admin:channels_message_send", args=[customer.pk])


def panel(response, name):
    return next(p.context for p in response.context["customer_panels"] if p.name == name)


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = "http://testserver.example/"


@pytest.fixture
def secret_channel():
    return ChannelFactory(
        name="SMS gateway",
        kind=Channel.Kind.SMS,
        backend="channels.backends.http.HttpBackend",
        settings=SECRETS,
        webhook_secret=WEBHOOK_SECRET,
    )


# --- Channels -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["Administrator", "Support agent", "Marketing"])
def test_secrets_never_appear_in_the_channel_list_or_change_page(client, role, secret_channel):
    login(client, role)

    listing = client.get(reverse("admin:channels_channel_changelist")).content.decode()
    page = client.get(reverse("admin:channels_channel_change", args=[secret_channel.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert "SMS gateway" in listing
    for secret in HIDDEN:
        assert secret not in listing
        assert secret not in html
    assert PLACEHOLDER in html
    assert "https://gateway.example.com/send" in html
    status_hook = reverse("channels:hook-status", args=[secret_channel.pk])
    assert f"http://testserver.example{status_hook}" in html


def test_saving_with_the_placeholders_keeps_every_secret(admin_client, secret_channel):
    page = admin_client.get(reverse("admin:channels_channel_change", args=[secret_channel.pk]))
    shown = json.loads(page.context["adminform"].form["settings"].value())
    shown["url"] = "https://gateway.example.com/v2/send"

    response = admin_client.post(
        reverse("admin:channels_channel_change", args=[secret_channel.pk]),
        channel_form(secret_channel, settings=json.dumps(shown), sender="Shop"),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    secret_channel.refresh_from_db()
    assert secret_channel.plain_settings() == {
        **SECRETS,
        "url": "https://gateway.example.com/v2/send",
    }
    assert secret_channel.plain_webhook_secret() == WEBHOOK_SECRET
    assert secret_channel.sender == "Shop"


def test_a_new_value_replaces_a_secret_and_an_empty_webhook_secret_is_kept(
    admin_client, secret_channel
):
    settings = {**secret_channel.public_settings, "api_key": "sk-new"}

    admin_client.post(
        reverse("admin:channels_channel_change", args=[secret_channel.pk]),
        channel_form(secret_channel, settings=json.dumps(settings), webhook_secret="whsec-new"),
    )

    secret_channel.refresh_from_db()
    assert secret_channel.plain_settings()["api_key"] == "sk-new"
    assert secret_channel.plain_settings()["password"] == SECRETS["password"]
    assert secret_channel.plain_settings()["headers"] == SECRETS["headers"]
    assert secret_channel.plain_webhook_secret() == "whsec-new"


def test_the_webhook_secret_can_be_removed(admin_client, secret_channel):
    admin_client.post(
        reverse("admin:channels_channel_change", args=[secret_channel.pk]),
        channel_form(secret_channel, clear_webhook_secret="on"),
    )

    secret_channel.refresh_from_db()
    assert secret_channel.webhook_secret == ""
    assert secret_channel.plain_settings() == SECRETS


def test_an_invalid_form_does_not_echo_a_newly_typed_secret(admin_client, secret_channel):
    settings = {**secret_channel.public_settings, "api_key": "sk-just-typed"}

    response = admin_client.post(
        reverse("admin:channels_channel_change", args=[secret_channel.pk]),
        channel_form(secret_channel, settings=json.dumps(settings), name=""),
    )

    assert response.status_code == 200
    assert "sk-just-typed" not in response.content.decode()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"backend": "channels.backends.nope.NopeBackend"}, "backend"),
        ({"settings": "[1, 2]"}, "settings"),
        ({"settings": "{not json"}, "settings"),
        ({"settings": json.dumps({"token": PLACEHOLDER})}, "settings"),
        ({"window_start": "08:00"}, "__all__"),
    ],
)
def test_invalid_channel_configuration_is_a_form_error(admin_client, changes, field):
    response = admin_client.post(
        reverse("admin:channels_channel_add"),
        channel_form(Channel(name="Mail", kind="email", settings={}), **changes),
    )

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Channel.objects.exists()


# --- Templates ----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["subject", "text", "html"])
def test_a_template_with_an_unclosed_if_is_a_form_error(client, field):
    login(client, "Marketing")
    data = {"key": "welcome", "kind": "email", "locale": "en", "subject": "Hi", "text": "Hello"}
    data[field] = "{% if customer.first_name %}Hello"

    response = client.post(reverse("admin:channels_template_add"), {**data, "active": "on"})

    assert response.status_code == 200
    assert "endif" in str(response.context["adminform"].form.errors[field])
    assert not Template.objects.filter(key="welcome").exists()


def test_marketing_saves_a_template_that_parses(client):
    login(client, "Marketing")
    data = {"key": "welcome", "kind": "sms", "locale": "az", "text": "Salam {{ first_name }}"}

    response = client.post(reverse("admin:channels_template_add"), {**data, "active": "on"})

    assert response.status_code == 302
    assert Template.objects.get(key="welcome").text == "Salam {{ first_name }}"


def preview_url(template):
    return reverse("admin:channels_template_preview", args=[template.pk])


def test_the_template_page_links_to_its_preview(client):
    login(client, "Marketing")
    template = TemplateFactory()

    html = client.get(reverse("admin:channels_template_change", args=[template.pk])).content

    assert preview_url(template) in html.decode()


def test_preview_renders_a_persian_template_for_a_persian_customer(client):
    login(client, "Support agent")
    template = TemplateFactory(
        kind="email",
        locale="fa",
        subject="سلام {{ first_name }}",
        text="{{ first_name }} عزیز، سبد خرید شما منتظر است.",
        html='<p dir="rtl">سلام <b>{{ first_name }}</b></p><script>alert(1)</script>',
    )
    customer = CustomerFactory(first_name="سارا", last_name="احمدی", locale="fa")
    IdentityFactory(customer=customer, value="sara@example.org")

    response = client.get(preview_url(template), {"q": "SARA@example.org"})

    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["customer"] == customer
    assert response.context["error"] is None
    assert response.context["rendered"].subject == "سلام سارا"
    assert "سارا عزیز، سبد خرید شما منتظر است." in html
    assert '<iframe class="crm-preview-frame" sandbox srcdoc="&lt;p dir=&quot;rtl&quot;&gt;' in html
    assert "<script>alert(1)</script>" not in html


def test_preview_offers_a_choice_when_several_customers_match_then_renders_the_chosen(client):
    login(client, "Marketing")
    template = TemplateFactory(text="Hi {{ first_name }}")
    first, second = CustomerFactory(first_name="Ali"), CustomerFactory(first_name="Ali")
    customers.refresh_search_text([first.pk, second.pk])

    listing = client.get(preview_url(template), {"q": "ali"})
    chosen = client.get(preview_url(template), {"q": "ali", "customer": second.pk})
    by_id = client.get(preview_url(template), {"q": str(first.pk)})

    assert set(listing.context["matches"]) == {first, second}
    assert listing.context["rendered"] is None
    assert chosen.context["rendered"].text == "Hi Ali"
    assert by_id.context["customer"] == first


def test_a_template_that_fails_at_run_time_shows_the_error_not_a_500(client):
    login(client, "Support agent")
    # Parses (a form would accept it) but cannot loop over a number.
    template = TemplateFactory(text="{% for letter in 5 %}{{ letter }}{% endfor %}")
    customer = CustomerFactory()

    response = client.get(preview_url(template), {"customer": customer.pk})

    assert response.status_code == 200
    assert "TypeError" in response.context["error"]
    assert "not iterable" in response.content.decode()


# --- The outbox list ----------------------------------------------------------------------------

STATUSES = ["queued", "sending", "sent", "delivered", "failed", "bounced", "suppressed"]


def make_messages(count, *, customer=None, channel=None):
    channel = channel or Channel.objects.first() or ChannelFactory()
    customer = customer or CustomerFactory()
    for n in range(count):
        status = STATUSES[n % len(STATUSES)]
        MessageFactory(
            customer=customer,
            channel=channel,
            status=status,
            rule="frequency_cap" if status in ("queued", "suppressed") else "",
            reason="Two marketing messages a day" if status in ("queued", "suppressed") else "",
            not_before=timezone.now() + dt.timedelta(hours=n) if status == "queued" else None,
        )
    return customer


@pytest.mark.parametrize("role", ["Support agent", "Marketing", "Administrator"])
def test_the_message_list_costs_the_same_at_3_and_33_messages(
    client, role, django_assert_max_num_queries
):
    login(client, role)
    url = reverse("admin:channels_message_changelist")
    make_messages(3)
    client.get(url)  # warm the content-type cache
    few = count_queries(client, url)

    for _ in range(3):
        make_messages(10)

    with django_assert_max_num_queries(few):
        assert client.get(url).status_code == 200
    assert few <= 7


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "failed"}, {"failed"}),
        ({"kind": "sms"}, {"sms"}),
        ({"purpose": "transactional"}, {"receipt"}),
        ({"intent": "agent"}, {"receipt"}),
        ({"q": "reader-target@example.org"}, {"target"}),
        ({"q": "prov-target"}, {"target"}),
        ({"q": "key-target"}, {"target"}),
    ],
)
def test_message_list_filters_and_search(client, params, expected):
    login(client, "Support agent")
    customer = CustomerFactory()
    sms = ChannelFactory(kind="sms")
    rows = {
        "failed": MessageFactory(customer=customer, status="failed"),
        "sms": MessageFactory(customer=customer, channel=sms),
        "receipt": MessageFactory(customer=customer, purpose="transactional", intent="agent"),
        "target": MessageFactory(
            customer=customer,
            to="reader-target@example.org",
            provider_id="prov-target",
            idempotency_key="key-target",
        ),
    }

    response = client.get(reverse("admin:channels_message_changelist"), params)

    shown = set(response.context["cl"].result_list)
    assert shown == {rows[name] for name in expected}


def test_nobody_adds_changes_or_deletes_messages_in_the_admin(admin_client):
    message = MessageFactory()

    page = admin_client.get(reverse("admin:channels_message_change", args=[message.pk]))
    add = admin_client.get(reverse("admin:channels_message_add"))
    delete = admin_client.post(reverse("admin:channels_message_delete", args=[message.pk]))

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert "sandbox srcdoc=" in page.content.decode()
    assert add.status_code == 403
    assert delete.status_code == 403
    assert Message.objects.filter(pk=message.pk).exists()


# --- The customer page panels -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["Support agent", "Administrator"])
def test_the_customer_page_costs_the_same_at_3_and_30_messages(
    client, role, django_assert_max_num_queries
):
    login(client, role)
    ChannelFactory(kind="sms")
    small = make_messages(3)
    big = make_messages(30)
    client.get(customer_url(CustomerFactory()))  # warm the content-type cache

    baseline = count_queries(client, customer_url(small))

    with django_assert_max_num_queries(baseline):
        response = client.get(customer_url(big))
    assert len(panel(response, "channels.outbox")["held"]) == 12
    # The profile and its first-screen cards (4 queries), the outbox and journeys panels.
    assert baseline <= 20


def test_the_panel_lists_at_most_20_of_each_and_links_to_the_rest(client):
    login(client, "Support agent")
    customer = CustomerFactory()
    channel = ChannelFactory()
    for n in range(25):
        MessageFactory(customer=customer, channel=channel, status="queued")
        MessageFactory(customer=customer, channel=channel, status="failed", reason=f"x{n}")

    context = panel(client.get(customer_url(customer)), "channels.outbox")

    assert len(context["coming"]) == 20
    assert len(context["held"]) == 20
    assert context["coming_more"]
    assert context["held_more"]


def test_the_panel_says_why_a_message_waits_and_why_one_was_not_sent(client):
    login(client, "Support agent")
    customer = CustomerFactory()
    MessageFactory(
        customer=customer,
        status="queued",
        rule="frequency_cap",
        reason="Five marketing messages a week",
        not_before=dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC),
    )
    MessageFactory(
        customer=customer,
        status="suppressed",
        rule="no_channel",
        reason="email: No marketing consent.",
    )
    MessageFactory(customer=customer, status="sent", subject="Already out")
    client.cookies["crm_tz"] = "Asia/Tehran"

    response = client.get(customer_url(customer))

    html = response.content.decode()
    section = html[html.index('id="customer-messages"') : html.index('id="timeline"')]
    assert "Five marketing messages a week" in section
    assert 'datetime="2030-01-01T15:30:00+03:30"' in section
    assert "no_channel" in section
    assert "email: No marketing consent." in section
    assert "Already out" not in section
    assert "Deferred" in section


def test_the_panels_show_in_persian_right_to_left(client):
    login(client, "Support agent")
    ChannelFactory()
    customer = make_messages(7)

    response = client.get(customer_url(customer), HTTP_ACCEPT_LANGUAGE="fa")

    html = response.content.decode()
    assert 'dir="rtl"' in html
    assert 'id="customer-messages"' in html
    assert 'id="send-message-form"' in html


# --- Sending a one-off message ------------------------------------------------------------------


@pytest.fixture
def reachable():
    ChannelFactory(kind="email", name="Mail")
    customer = CustomerFactory(first_name="Sara")
    IdentityFactory(customer=customer, value="sara@example.org")
    return customer


def form_token(client, customer):
    form = panel(client.get(customer_url(customer)), "channels.send")["form"]
    return form["token"].value()


def test_an_agent_sends_a_one_off_email_once_even_when_submitted_twice(client, reachable):
    agent = login(client, "Support agent")
    post = {
        "kind": "email",
        "subject": "Your order",
        "text": "It ships tomorrow.",
        "token": form_token(client, reachable),
    }

    first = client.post(send_url(reachable), post)
    second = client.post(send_url(reachable), post)

    message = Message.objects.get()
    assert first.status_code == second.status_code == 302
    assert first.url == f"{customer_url(reachable)}#customer-messages"
    assert (message.customer, message.agent, message.purpose) == (reachable, agent, "transactional")
    assert (message.kind, message.to, message.intent) == ("email", "sara@example.org", "agent")
    assert (message.subject, message.text, message.status) == (
        "Your order",
        "It ships tomorrow.",
        "queued",
    )
    assert message.idempotency_key == f"agent:{post['token']}"
    assert "Queued on Email to sara@example.org." in messages_of(first)


def test_a_fresh_form_sends_a_second_message(client, reachable):
    login(client, "Support agent")
    for text in ("One", "Two"):
        client.post(
            send_url(reachable),
            {"kind": "email", "text": text, "token": form_token(client, reachable)},
        )

    assert sorted(Message.objects.values_list("text", flat=True)) == ["One", "Two"]


def test_a_message_nobody_can_receive_comes_back_as_a_warning_with_the_reason(client):
    login(client, "Support agent")
    ChannelFactory(kind="sms")
    customer = CustomerFactory()

    response = client.post(
        send_url(customer), {"kind": "sms", "text": "Hi", "token": "t" * 32}, follow=True
    )

    message = Message.objects.get()
    assert message.status == "suppressed"
    assert any("Not sent on SMS" in m and "no address" in m for m in messages_of(response))


def test_an_empty_message_shows_the_form_error_and_sends_nothing(client, reachable):
    login(client, "Support agent")

    response = client.post(
        send_url(reachable),
        {"kind": "email", "text": "   ", "token": "t" * 32},
        follow=True,
    )

    form = panel(response, "channels.send")["form"]
    assert not Message.objects.exists()
    assert "text" in form.errors
    assert form["token"].value() == "t" * 32
    assert any("not sent" in m for m in messages_of(response))


def test_only_active_channel_kinds_are_offered(client, reachable):
    login(client, "Support agent")
    ChannelFactory(kind="sms", active=False)
    ChannelFactory(kind="whatsapp")

    form = panel(client.get(customer_url(reachable)), "channels.send")["form"]

    assert [value for value, _label in form.fields["kind"].choices] == ["email", "whatsapp"]


def test_a_user_without_add_message_gets_403_and_no_form(client, reachable):
    login(client, "Marketing")

    response = client.post(send_url(reachable), {"kind": "email", "text": "Hi", "token": "t" * 32})
    page = client.get(customer_url(reachable))

    assert response.status_code == 403
    assert not Message.objects.exists()
    assert "channels.send" not in [p.name for p in page.context["customer_panels"]]


def test_the_send_url_only_accepts_post(client, reachable):
    login(client, "Support agent")

    assert client.get(send_url(reachable)).status_code == 405


# --- Frequency caps and holidays ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status", "limit"), [("Marketing", 302, 3), ("Support agent", 403, 2)]
)
def test_marketing_can_edit_a_frequency_cap_a_support_agent_cannot(client, role, status, limit):
    login(client, role)
    cap = FrequencyCap.objects.get(name="Two marketing messages a day")

    response = client.post(
        reverse("admin:channels_frequencycap_change", args=[cap.pk]),
        {"name": cap.name, "limit": 3, "period": "1 00:00:00", "action": "skip", "active": "on"},
    )

    cap.refresh_from_db()
    assert response.status_code == status
    assert cap.limit == limit


def test_marketing_adds_a_holiday(client):
    login(client, "Marketing")

    response = client.post(
        reverse("admin:channels_holiday_add"),
        {"date": "2026-03-21", "region": "IR", "name": "نوروز"},
    )

    assert response.status_code == 302
    assert client.get(reverse("admin:channels_holiday_changelist")).status_code == 200
