"""Hostile input on the outbound side: header injection in email fields, template injection in
message templates, open redirects through the click tracker."""

import email
import socket
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from django.core import signing
from django.urls import reverse

from channels import links, rendering, services
from channels.backends.base import Outgoing, PermanentError
from channels.backends.smtp import SmtpBackend
from channels.models import Channel, Message
from channels.services import Content
from commerce.models import Cart, CartLine, Order, Product
from customers.models import Case, Interaction
from tests.channels.factories import MessageFactory, TemplateFactory
from tests.customers.factories import CustomerFactory, IdentityFactory, StaffFactory

EVIL = "evil@attacker.example"
INJECTION = f"\r\nBcc: {EVIL}\r\nX-Injected: yes"

# --- Email header injection, against a real SMTP server on loopback ------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Recorder:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    controller = Controller(Recorder(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


def received(server):
    (envelope,) = server.handler.envelopes
    return envelope, email.message_from_bytes(envelope.content, policy=default_policy)


@pytest.fixture
def mail_channel(db, smtp_server):
    return Channel.objects.create(
        name="Mail",
        kind=Channel.Kind.EMAIL,
        backend="channels.backends.smtp.SmtpBackend",
        settings={"host": smtp_server.hostname, "port": smtp_server.port},
        sender="Shop <shop@example.com>",
    )


def reader(first_name="Sara"):
    customer = CustomerFactory(first_name=first_name, last_name="", locale="en")
    IdentityFactory(customer=customer, kind="email", value=f"reader{customer.pk}@example.org")
    return customer


def assert_not_injected(mail, envelope, customer):
    assert envelope.rcpt_tos == [f"reader{customer.pk}@example.org"]
    assert mail["Bcc"] is None
    assert mail["X-Injected"] is None
    assert "\n" not in mail["Subject"]
    assert EVIL not in envelope.rcpt_tos


@pytest.mark.django_db
def test_customer_data_in_a_subject_cannot_add_headers_or_recipients(mail_channel, smtp_server):
    TemplateFactory(key="hello", subject="Hi {{ first_name }}", text="Hello {{ first_name }}")
    customer = reader(first_name="Sara" + INJECTION)

    message = services.send(
        customer,
        purpose="transactional",
        idempotency_key="hostile:1",
        channels=["email"],
        template="hello",
    )

    assert services.deliver(message.pk) == "sent"
    envelope, mail = received(smtp_server)
    assert_not_injected(mail, envelope, customer)
    assert mail["Subject"] == f"Hi Sara Bcc: {EVIL} X-Injected: yes"


@pytest.mark.django_db
def test_a_line_break_in_an_agents_subject_becomes_a_space(mail_channel, smtp_server):
    customer = reader()

    message = services.send(
        customer,
        purpose="transactional",
        idempotency_key="hostile:2",
        channels=["email"],
        content=Content("Your order shipped.", subject="Order 12" + INJECTION),
    )

    assert services.deliver(message.pk) == "sent"
    envelope, mail = received(smtp_server)
    assert_not_injected(mail, envelope, customer)
    assert mail["Subject"] == f"Order 12 Bcc: {EVIL} X-Injected: yes"


@pytest.mark.django_db
def test_a_line_break_in_the_sender_fails_the_message_for_good(mail_channel, smtp_server):
    Channel.objects.filter(pk=mail_channel.pk).update(sender="Shop <shop@example.com>" + INJECTION)
    message = services.send(
        reader(),
        purpose="transactional",
        idempotency_key="hostile:3",
        channels=["email"],
        content=Content("Hello", subject="Hello"),
    )

    assert services.deliver(message.pk) == "failed"  # at once, not a retry loop
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.attempts == 1
    assert "line break" in message.reason
    assert services.deliver(message.pk) == "skipped"
    assert smtp_server.handler.envelopes == []
    failed = Interaction.objects.filter(customer=message.customer, name="Message Failed")
    assert failed.exists()


@pytest.mark.parametrize("to", ["sara@example.com" + INJECTION, "sara@example.com\nCc: x@y.z"])
def test_a_line_break_in_the_recipient_is_a_permanent_error(smtp_server, to):
    channel = Channel(
        name="Mail",
        kind="email",
        backend="channels.backends.smtp.SmtpBackend",
        settings={"host": smtp_server.hostname, "port": smtp_server.port},
        sender="shop@example.com",
    )

    with pytest.raises(PermanentError, match="line break"):
        SmtpBackend(channel).send(Outgoing(message_id=1, kind="email", to=to, text="Hi"))

    assert smtp_server.handler.envelopes == []


# --- Template injection -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{% load static %}{% static 'x.css' %}",
        "{% load log %}",
        "{% load admin_urls %}",
        '{% include "admin/base.html" %}',
        '{% include "/etc/passwd" %}',
        '{% extends "admin/base.html" %}',
        "{% debug %}",
        "{% url 'admin:index' %}",
        "{% csrf_token %}",
        "{{ customer._meta }}",
        "{{ customer.__class__ }}",
    ],
)
def test_templates_that_reach_outside_the_sandbox_do_not_parse(source):
    assert rendering.syntax_error(source) is not None


@pytest.mark.parametrize(
    "source",
    [
        "{% load i18n %}{% translate 'Hello' %}",
        "{% load crm_dates %}{{ order.placed_at|local_date:customer }}",
        "{% for line in cart.lines.all %}{{ line.name }}{% endfor %}",
        "{% now 'Y' %} {{ first_name|upper }} {% if cart %}x{% endif %}",
    ],
)
def test_the_documented_tags_and_libraries_still_parse(source):
    assert rendering.syntax_error(source) is None


@pytest.mark.django_db
def test_the_template_admin_refuses_a_template_outside_the_sandbox(client):
    client.force_login(StaffFactory(role="Administrator"))

    response = client.post(
        reverse("admin:channels_template_add"),
        {
            "key": "leak",
            "kind": "email",
            "locale": "en",
            "subject": "{% load log %}",
            "text": "{% debug %}",
            "html": '{% include "admin/base.html" %}',
            "active": "on",
        },
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"subject", "text", "html"}
    assert "Template error" in str(errors["text"])
    assert "debug" in str(errors["text"])


@pytest.fixture
def shopper(db):
    customer = CustomerFactory(first_name="Sara", last_name="Ahmadi", locale="en")
    staff = StaffFactory(role="Support agent")
    MessageFactory(customer=customer, agent=staff, text="Internal: VIP, owes 200")
    cart = Cart.objects.create(customer=customer, currency="EUR")
    product = Product.objects.create(sku="TEA-1", name="Saffron tea", price="14.50")
    CartLine.objects.create(
        cart=cart, product=product, sku="TEA-1", name="Saffron tea", price="14.50", channel="web"
    )
    order = Order.objects.create(customer=customer, external_id="A-1", channel="web", total="9.00")
    case = Case.objects.create(customer=customer, subject="Late parcel", assignee=staff)
    return customer, staff, {"cart": cart, "order": order, "product": product, "case": case}


def render_text(customer, source, extra):
    context = rendering.base_context(customer, extra)
    return rendering.render(customer=customer, subject="", text=source, context=context).text


@pytest.mark.parametrize(
    "source",
    [
        "{% for m in customer.messages.all %}[{{ m.text }}|{{ m.agent.password }}]{% endfor %}",
        "{{ customer.messages.first.agent.password }}",
        "{{ cart.customer.messages.all }}",
        "{{ cart.lines.all.0.cart.customer.identities.all }}",
        "{{ case.assignee.password }}{{ case.assignee.username }}",
        "{{ customer.identities.all }}{{ customer.consents.all }}{{ customer.cases.all }}",
        "{{ customer.search_text }}{{ customer.merged_into }}{{ customer.pk }}{{ customer.id }}",
        "{{ customer.delete }}{{ customer.save }}{{ customer.refresh_from_db }}",
        "{{ order.customer }}{{ order.source }}{{ product.stock_quantity }}",
        "{{ settings.SECRET_KEY }}{{ settings }}{{ request }}{{ user.password }}",
    ],
)
def test_a_template_sees_only_the_documented_context(shopper, source):
    customer, _staff, extra = shopper
    before = customer_state(customer)

    assert render_text(customer, source, extra) == ""
    assert customer_state(customer) == before  # nothing was called that changes data


def customer_state(customer):
    customer.refresh_from_db()
    return (customer.first_name, customer.updated_at, customer.messages.count())


def test_the_documented_context_still_renders(shopper):
    customer, _staff, extra = shopper
    source = (
        "{{ customer.first_name }} {{ customer.display_name }} {{ first_name }}|"
        "{% for line in cart.lines.all %}{{ line.name }} × {{ line.quantity }} "
        "{{ line.product.name }}{% endfor %}|{{ cart.lines.all|length }}|"
        "{{ order.external_id }} {{ order.total }}|{{ product.name }}|{{ case.subject }}|"
        "{% load crm_dates %}{{ order.placed_at|local_date:customer|yesno:'dated,' }}"
    )

    text = render_text(customer, source, extra)

    assert text == (
        "Sara Sara Ahmadi Sara|Saffron tea × 1 Saffron tea|1|A-1 9.00|Saffron tea|Late parcel|dated"
    )


# --- Open redirects through click tracking -------------------------------------------------------


def click_path(message, index):
    return links.click_url(message, index).removeprefix(links.absolute(""))


def assert_no_redirect(response):
    assert response.status_code == 404
    assert "Location" not in response
    assert b"evil" not in response.content


@pytest.mark.django_db
def test_a_click_goes_only_to_a_link_recorded_for_that_message(client):
    message = MessageFactory(links=["https://shop.example.com/sale"])
    response = client.get(click_path(message, 0))
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example.com/sale"


@pytest.mark.django_db
def test_a_tampered_or_foreign_token_does_not_redirect(client):
    message = MessageFactory(links=["https://shop.example.com/sale"])
    other = MessageFactory(links=["https://evil.example/phish"])
    token = click_path(message, 0).rstrip("/").rsplit("/", 1)[-1]
    forged = signing.dumps(
        {"m": other.pk, "l": 0}, key="guessed-key", salt=links.CLICK_SALT, compress=True
    )
    spliced = forged.rsplit(":", 1)[0] + ":" + token.rsplit(":", 1)[1]
    bad_tokens = [
        # Another message's payload under this message's signature, or signed with a guessed key.
        spliced,
        forged,
        token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"),
        # Signed by us, but not as a click token (wrong salt), or not signed at all.
        signing.dumps({"m": other.pk, "l": 0}, compress=True),
        signing.dumps({"m": other.pk, "l": 0}, salt=links.OPEN_SALT, compress=True),
        "https://evil.example",
        "//evil.example",
    ]

    for bad in bad_tokens:
        assert_no_redirect(client.get(f"/t/c/{bad}/"))
    assert not Message.objects.filter(clicked_at__isnull=False).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "//evil.example/phish",
        "javascript:alert(document.cookie)",
        "JaVaScRiPt:alert(1)",
        " https://evil.example",
        "https:/\\evil.example",
        "data:text/html,<script>alert(1)</script>",
        "/admin/",
        "mailto:evil@attacker.example",
    ],
)
def test_a_recorded_link_that_is_not_an_absolute_http_url_is_never_followed(client, url):
    message = MessageFactory(links=[url])

    assert_no_redirect(client.get(click_path(message, 0)))
    message.refresh_from_db()
    assert message.clicked_at is None


@pytest.mark.django_db
def test_a_line_break_in_a_recorded_link_cannot_split_the_response(client):
    message = MessageFactory(links=["https://shop.example.com/a\r\nSet-Cookie: session=evil"])

    response = client.get(click_path(message, 0))

    assert "session" not in response.cookies
    assert "\n" not in response.get("Location", "")
    assert "\r" not in response.get("Location", "")
