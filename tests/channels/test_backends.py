import email
import io
import json
import socket
import threading
import time
from email.header import decode_header, make_header
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from django.core.mail.backends.base import BaseEmailBackend
from werkzeug import Request, Response

from channels import signing
from channels.backends import locmem
from channels.backends.base import Outgoing, PermanentError, TransientError
from channels.backends.console import ConsoleBackend
from channels.backends.http import HttpBackend
from channels.backends.locmem import LocmemBackend
from channels.backends.smtp import SmtpBackend
from channels.backends.twilio import TwilioBackend
from channels.backends.webhook import WebhookBackend
from channels.models import Channel

PERSIAN_SUBJECT = "سفارش شما ارسال شد ✓"
PERSIAN_TEXT = "سلام سارا، سبد خرید شما منتظر است."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def outgoing(**overrides):
    values = {"message_id": 42, "kind": "email", "to": "sara@example.com", "text": "Hello"}
    return Outgoing(**{**values, **overrides})


def channel(backend, *, kind="email", sender="", **settings):
    return Channel(
        name=f"test {kind}", kind=kind, backend=backend, settings=settings, sender=sender
    )


# --- SMTP: a real server on loopback -----------------------------------------------------------


class RecordingHandler:
    def __init__(self):
        self.envelopes = []
        self.refuse = {}  # recipient -> the reply to RCPT TO, e.g. "550 5.1.1 No such user"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


def smtp_channel(server, **settings):
    return channel(
        "channels.backends.smtp.SmtpBackend",
        sender="Shop <shop@example.com>",
        host=server.hostname,
        port=server.port,
        **settings,
    )


def received(server):
    (envelope,) = server.handler.envelopes
    return envelope, email.message_from_bytes(envelope.content, policy=default_policy)


def test_smtp_sends_text_and_html_parts_and_returns_the_message_id(smtp_server):
    message = outgoing(subject="Your order", text="Plain words", html="<p>Rich words</p>")

    message_id = SmtpBackend(smtp_channel(smtp_server)).send(message)

    envelope, mail = received(smtp_server)
    assert envelope.mail_from == "shop@example.com"
    assert envelope.rcpt_tos == ["sara@example.com"]
    assert mail["From"] == "Shop <shop@example.com>"
    assert mail["To"] == "sara@example.com"
    assert mail["Message-ID"] == message_id
    assert message_id.startswith("<")
    assert message_id.endswith("@example.com>")
    assert mail.get_body(("plain",)).get_content().strip() == "Plain words"
    assert mail.get_body(("html",)).get_content().strip() == "<p>Rich words</p>"


def test_smtp_marketing_message_carries_one_click_unsubscribe_headers(smtp_server):
    message = outgoing(
        purpose="marketing",
        subject="Sale",
        unsubscribe_url="https://crm.example.com/u/abc",
        unsubscribe_post_url="https://crm.example.com/u/abc/one-click",
    )

    SmtpBackend(smtp_channel(smtp_server)).send(message)

    _, mail = received(smtp_server)
    assert mail["List-Unsubscribe"] == "<https://crm.example.com/u/abc/one-click>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_smtp_unsubscribe_header_falls_back_to_the_page_url(smtp_server):
    message = outgoing(purpose="marketing", unsubscribe_url="https://crm.example.com/u/abc")

    SmtpBackend(smtp_channel(smtp_server)).send(message)

    _, mail = received(smtp_server)
    assert mail["List-Unsubscribe"] == "<https://crm.example.com/u/abc>"


def test_smtp_transactional_message_has_no_unsubscribe_headers(smtp_server):
    SmtpBackend(smtp_channel(smtp_server)).send(outgoing(subject="Receipt"))

    _, mail = received(smtp_server)
    assert "List-Unsubscribe" not in mail
    assert "List-Unsubscribe-Post" not in mail


def test_smtp_persian_subject_and_body_arrive_encoded_and_decode_back(smtp_server):
    SmtpBackend(smtp_channel(smtp_server)).send(
        outgoing(subject=PERSIAN_SUBJECT, text=PERSIAN_TEXT)
    )

    envelope, mail = received(smtp_server)
    raw_subject = email.message_from_bytes(envelope.content)["Subject"]
    assert raw_subject.isascii()  # RFC 2047 encoded words on the wire
    assert str(make_header(decode_header(raw_subject))) == PERSIAN_SUBJECT
    assert mail["Subject"] == PERSIAN_SUBJECT
    assert mail.get_body(("plain",)).get_content().strip() == PERSIAN_TEXT


def test_smtp_falls_back_to_django_email_settings(smtp_server, settings):
    settings.EMAIL_HOST = smtp_server.hostname
    settings.EMAIL_PORT = smtp_server.port
    settings.DEFAULT_FROM_EMAIL = "crm@example.org"

    message_id = SmtpBackend(channel("channels.backends.smtp.SmtpBackend")).send(outgoing())

    envelope, _ = received(smtp_server)
    assert envelope.mail_from == "crm@example.org"
    assert message_id.endswith("@example.org>")


@pytest.mark.parametrize(
    ("reply", "error", "bounced"),
    [
        ("550 5.1.1 No such user here", PermanentError, True),
        ("553 5.1.3 Bad recipient address syntax", PermanentError, True),
        ("554 5.7.1 Relay access denied", PermanentError, False),
        ("451 4.3.0 Try again later", TransientError, False),
    ],
)
def test_smtp_refused_recipient_maps_to_the_right_error(smtp_server, reply, error, bounced):
    smtp_server.handler.refuse["nobody@example.com"] = reply

    with pytest.raises(error) as caught:
        SmtpBackend(smtp_channel(smtp_server)).send(outgoing(to="nobody@example.com"))

    assert caught.value.bounced is bounced
    assert reply[:3] in str(caught.value)
    assert smtp_server.handler.envelopes == []


def test_smtp_nothing_listening_is_transient():
    dead = channel("channels.backends.smtp.SmtpBackend", host="127.0.0.1", port=free_port())

    with pytest.raises(TransientError):
        SmtpBackend(dead).send(outgoing())


def test_smtp_error_text_hides_the_password():
    dead = channel(
        "channels.backends.smtp.SmtpBackend",
        email_backend="no.such.Backend",
        password="hunter2-very-secret",
    )

    with pytest.raises(PermanentError) as caught:
        SmtpBackend(dead).send(outgoing())

    assert "no.such.Backend" in str(caught.value)
    assert "hunter2" not in str(caught.value)


class EspLikeEmailBackend(BaseEmailBackend):
    """Stands in for a django-anymail backend: takes its own options, sets anymail_status."""

    def __init__(self, api_key=None, **kwargs):
        super().__init__(**kwargs)
        self.api_key = api_key

    def send_messages(self, email_messages):
        for message in email_messages:
            message.anymail_status = type("Status", (), {"message_id": f"esp-{self.api_key}"})()
        return len(email_messages)


def test_smtp_hands_other_settings_to_the_email_backend_and_returns_the_esp_id():
    esp = channel(
        "channels.backends.smtp.SmtpBackend",
        sender="shop@example.com",
        email_backend=f"{__name__}.EspLikeEmailBackend",
        api_key="k123",
    )

    assert SmtpBackend(esp).send(outgoing()) == "esp-k123"


# --- Generic HTTP gateway: a real server on loopback -------------------------------------------


KAVENEGAR_OK = {
    "return": {"status": 200, "message": "تایید شد"},
    "entries": [{"messageid": 8792343, "receptor": "09121234567", "status": 1}],
}


def kavenegar(httpserver, *, method="POST", **overrides):
    body = {"receptor": "{{ to }}", "sender": "{{ sender }}", "message": "{{ text }}"}
    settings = {
        "url": httpserver.url_for("/v1/{{ api_key }}/sms/send.json"),
        "method": method,
        "api_key": "KAVE-SECRET-KEY",
        "success_path": "return.status",
        "success_value": 200,
        "id_path": "entries.0.messageid",
        ("params" if method == "GET" else "form"): body,
        **overrides,
    }
    return channel("channels.backends.http.HttpBackend", kind="sms", sender="10004346", **settings)


def sms(**overrides):
    return outgoing(**{"kind": "sms", "to": "09121234567", "text": PERSIAN_TEXT, **overrides})


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_http_kavenegar_like_gateway(httpserver, method):
    httpserver.expect_request("/v1/KAVE-SECRET-KEY/sms/send.json", method=method).respond_with_json(
        KAVENEGAR_OK
    )

    provider_id = HttpBackend(kavenegar(httpserver, method=method)).send(sms())

    assert provider_id == "8792343"
    ((request, _),) = httpserver.log
    sent = request.args if method == "GET" else request.form
    assert sent.to_dict() == {
        "receptor": "09121234567",
        "sender": "10004346",
        "message": PERSIAN_TEXT,
    }


def test_http_form_post_with_rendered_headers_like_ghasedak(httpserver):
    httpserver.expect_request("/v2/sms/send/simple", method="POST").respond_with_json(
        {"result": {"code": 200, "message": "success"}, "items": [55501]}
    )
    ghasedak = channel(
        "channels.backends.http.HttpBackend",
        kind="sms",
        sender="30005006",
        url=httpserver.url_for("/v2/sms/send/simple"),
        apikey="GH-SECRET",
        headers={"apikey": "{{ apikey }}", "X-Purpose": "{{ purpose }}"},
        form={"receptor": "{{ to }}", "linenumber": "{{ sender }}", "message": "{{ text }}"},
        success_path="result.code",
        success_value="200",
        id_path="items.0",
    )

    assert HttpBackend(ghasedak).send(sms(purpose="marketing")) == "55501"

    ((request, _),) = httpserver.log
    assert request.headers["apikey"] == "GH-SECRET"
    assert request.headers["X-Purpose"] == "marketing"
    assert request.form.to_dict() == {
        "receptor": "09121234567",
        "linenumber": "30005006",
        "message": PERSIAN_TEXT,
    }


def test_http_form_post_like_melipayamak(httpserver):
    httpserver.expect_request("/api/SendSMS/SendSMS", method="POST").respond_with_json(
        {"Value": "2095164816", "RetStatus": 1, "StrRetStatus": "Ok"}
    )
    melipayamak = channel(
        "channels.backends.http.HttpBackend",
        kind="sms",
        sender="50004001",
        url=httpserver.url_for("/api/SendSMS/SendSMS"),
        username="shop",
        password="MELI-SECRET",
        form={
            "username": "{{ username }}",
            "password": "{{ password }}",
            "to": "{{ to }}",
            "from": "{{ sender }}",
            "text": "{{ text }}",
        },
        success_path="RetStatus",
        success_value=1,
        id_path="Value",
    )

    assert HttpBackend(melipayamak).send(sms()) == "2095164816"
    ((request, _),) = httpserver.log
    assert request.form["password"] == "MELI-SECRET"


def test_http_json_body_is_valid_json_whatever_the_text_holds(httpserver):
    httpserver.expect_request("/send", method="POST").respond_with_json({"id": "m-1"})
    text = 'He said "hi" & <left>\n{{ not a tag }}'
    gateway = channel(
        "channels.backends.http.HttpBackend",
        kind="sms",
        url=httpserver.url_for("/send"),
        json={"to": ["{{ to }}"], "body": "{{ text }}", "ref": "{{ message_id }}", "flash": False},
        id_path="id",
    )

    assert HttpBackend(gateway).send(sms(text=text)) == "m-1"

    ((request, _),) = httpserver.log
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.get_data()) == {
        "to": ["09121234567"],
        "body": text,
        "ref": "42",
        "flash": False,
    }


@pytest.mark.parametrize("status", [503, 500, 429])
def test_http_server_trouble_is_transient(httpserver, status):
    httpserver.expect_request("/v1/KAVE-SECRET-KEY/sms/send.json").respond_with_data(
        "busy", status=status
    )

    with pytest.raises(TransientError, match=str(status)):
        HttpBackend(kavenegar(httpserver)).send(sms())


def test_http_client_error_is_permanent_and_its_text_hides_secrets(httpserver):
    # Some gateways echo the request back: the key in the URL must not reach the error text.
    httpserver.expect_request("/v1/KAVE-SECRET-KEY/sms/send.json").respond_with_json(
        {"return": {"status": 400, "message": "bad request for KAVE-SECRET-KEY"}}, status=400
    )

    with pytest.raises(PermanentError) as caught:
        HttpBackend(kavenegar(httpserver)).send(sms())

    assert "400" in str(caught.value)
    assert "KAVE-SECRET-KEY" not in str(caught.value)
    assert caught.value.bounced is False


def test_http_bounce_status_marks_the_number_bounced(httpserver):
    httpserver.expect_request("/v1/KAVE-SECRET-KEY/sms/send.json").respond_with_json(
        {"return": {"status": 411, "message": "receptor invalid"}}, status=411
    )

    with pytest.raises(PermanentError) as caught:
        HttpBackend(kavenegar(httpserver, bounce_status=[411])).send(sms())

    assert caught.value.bounced is True


def test_http_ok_status_with_failing_success_rule_is_permanent(httpserver):
    httpserver.expect_request("/v1/KAVE-SECRET-KEY/sms/send.json").respond_with_json(
        {"return": {"status": 418, "message": "اعتبار کافی نیست"}, "entries": None}
    )

    with pytest.raises(PermanentError, match="418"):
        HttpBackend(kavenegar(httpserver)).send(sms())


def test_http_success_status_list_replaces_any_2xx(httpserver):
    httpserver.expect_request("/send").respond_with_data("queued", status=202)
    gateway = channel(
        "channels.backends.http.HttpBackend", url=httpserver.url_for("/send"), success_status=[200]
    )

    with pytest.raises(PermanentError, match="202"):
        HttpBackend(gateway).send(sms())


def test_http_timeout_is_transient(httpserver):
    done = threading.Event()

    def slow(request: Request) -> Response:
        time.sleep(0.5)
        done.set()
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    gateway = channel(
        "channels.backends.http.HttpBackend", url=httpserver.url_for("/slow"), timeout=0.1
    )

    with pytest.raises(TransientError, match="Timeout"):
        HttpBackend(gateway).send(sms())
    done.wait(5)  # the server is single-threaded: let it finish before the next test


def test_http_nothing_listening_is_transient():
    gateway = channel(
        "channels.backends.http.HttpBackend", url=f"http://127.0.0.1:{free_port()}/send"
    )

    with pytest.raises(TransientError):
        HttpBackend(gateway).send(sms())


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"url": "http://127.0.0.1/{% if %}"},
        {"url": "ftp://127.0.0.1/send"},
        {"url": "http://127.0.0.1/send", "json": {}, "form": {}},
        {"url": "http://127.0.0.1/send", "headers": ["Authorization: x"]},
        {"url": "http://127.0.0.1/send", "method": "GET", "json": {"to": "{{ to }}"}},
    ],
)
def test_http_bad_settings_are_permanent(options):
    with pytest.raises(PermanentError):
        HttpBackend(channel("channels.backends.http.HttpBackend", **options)).send(sms())


# --- Twilio: a real server on loopback ---------------------------------------------------------


TWILIO_PATH = "/2010-04-01/Accounts/AC123/Messages.json"


def twilio(httpserver, *, kind="sms", **settings):
    return channel(
        "channels.backends.twilio.TwilioBackend",
        kind=kind,
        sender="+14155550100",
        account_sid="AC123",
        auth_token="TWILIO-TOKEN",
        base_url=httpserver.url_for("/"),
        **settings,
    )


def test_twilio_posts_the_form_with_basic_auth_and_returns_the_sid(httpserver):
    httpserver.expect_request(TWILIO_PATH, method="POST").respond_with_json(
        {"sid": "SM0001", "status": "queued"}, status=201
    )
    backend = TwilioBackend(twilio(httpserver, status_callback="https://crm.example.com/tw"))

    assert backend.send(sms(to="+989121234567")) == "SM0001"

    ((request, _),) = httpserver.log
    assert (request.authorization.username, request.authorization.password) == (
        "AC123",
        "TWILIO-TOKEN",
    )
    assert request.form.to_dict() == {
        "To": "+989121234567",
        "From": "+14155550100",
        "Body": PERSIAN_TEXT,
        "StatusCallback": "https://crm.example.com/tw",
    }


def test_twilio_whatsapp_prefixes_both_numbers(httpserver):
    httpserver.expect_request(TWILIO_PATH).respond_with_json({"sid": "SM0002"}, status=201)
    backend = TwilioBackend(twilio(httpserver, kind="whatsapp", **{"from": "+14155550199"}))

    backend.send(outgoing(kind="whatsapp", to="+989121234567", text="Hi"))

    ((request, _),) = httpserver.log
    assert request.form["To"] == "whatsapp:+989121234567"
    assert request.form["From"] == "whatsapp:+14155550199"


def test_twilio_messaging_service_replaces_from(httpserver):
    httpserver.expect_request(TWILIO_PATH).respond_with_json({"sid": "SM0003"}, status=201)

    TwilioBackend(twilio(httpserver, messaging_service_sid="MG9")).send(sms())

    ((request, _),) = httpserver.log
    assert request.form["MessagingServiceSid"] == "MG9"
    assert "From" not in request.form


def test_twilio_server_error_is_transient(httpserver):
    httpserver.expect_request(TWILIO_PATH).respond_with_json({"code": 20500}, status=500)

    with pytest.raises(TransientError):
        TwilioBackend(twilio(httpserver)).send(sms())


@pytest.mark.parametrize(
    ("status", "code", "bounced"),
    [(400, 21211, True), (400, 21610, True), (401, 20003, False), (400, 21606, False)],
)
def test_twilio_client_error_is_permanent(httpserver, status, code, bounced):
    httpserver.expect_request(TWILIO_PATH).respond_with_json(
        {"code": code, "message": "Twilio says no", "status": status}, status=status
    )

    with pytest.raises(PermanentError) as caught:
        TwilioBackend(twilio(httpserver)).send(sms())

    assert caught.value.bounced is bounced
    assert str(code) in str(caught.value)
    assert "TWILIO-TOKEN" not in str(caught.value)


# --- Signed webhook: a real receiver on loopback -----------------------------------------------


SECRET = "whsec-shared"


def signed_receiver(request: Request) -> Response:
    ok = signing.verify(
        SECRET,
        request.headers.get(signing.TIMESTAMP_HEADER, ""),
        request.headers.get(signing.SIGNATURE_HEADER, ""),
        request.get_data(),
    )
    if not ok:
        return Response("bad signature", status=401)
    return Response(json.dumps({"id": "push-7"}), content_type="application/json")


def webhook(httpserver, *, secret=SECRET, path="/hook"):
    return channel(
        "channels.backends.webhook.WebhookBackend",
        kind="push",
        url=httpserver.url_for(path),
        secret=secret,
    )


def test_webhook_posts_a_signed_body_the_receiver_verifies(httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_handler(signed_receiver)
    message = outgoing(
        kind="push",
        to="device-token",
        subject="سبد خرید",
        text=PERSIAN_TEXT,
        customer_public_id="c_9",
        locale="fa",
        metadata={"cart": 3},
    )

    assert WebhookBackend(webhook(httpserver)).send(message) == "push-7"

    ((request, _),) = httpserver.log
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.get_data()) == {
        "id": 42,
        "kind": "push",
        "to": "device-token",
        "subject": "سبد خرید",
        "text": PERSIAN_TEXT,
        "html": "",
        "purpose": "transactional",
        "customer": "c_9",
        "locale": "fa",
        "metadata": {"cart": 3},
    }


def test_webhook_signed_with_another_secret_is_refused(httpserver):
    httpserver.expect_request("/hook").respond_with_handler(signed_receiver)

    with pytest.raises(PermanentError, match="401") as caught:
        WebhookBackend(webhook(httpserver, secret="not-the-secret")).send(outgoing())

    assert "not-the-secret" not in str(caught.value)


def test_webhook_without_an_id_in_the_answer_returns_empty(httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")

    assert WebhookBackend(webhook(httpserver)).send(outgoing()) == ""


@pytest.mark.parametrize(("status", "error"), [(502, TransientError), (410, PermanentError)])
def test_webhook_error_statuses(httpserver, status, error):
    httpserver.expect_request("/hook").respond_with_data("no", status=status)

    with pytest.raises(error, match=str(status)):
        WebhookBackend(webhook(httpserver)).send(outgoing())


def test_webhook_needs_a_secret(httpserver):
    with pytest.raises(PermanentError, match="secret"):
        WebhookBackend(webhook(httpserver, secret="")).send(outgoing())


# --- Signing -----------------------------------------------------------------------------------


NOW = 1_750_000_000
BODY = b'{"id":1,"text":"hi"}'


def test_signature_has_the_documented_shape():
    signature = signing.sign(SECRET, NOW, BODY)

    assert signature.startswith("sha256=")
    assert len(signature) == len("sha256=") + 64
    assert signing.verify(SECRET, str(NOW), signature, BODY, now=NOW)
    assert signing.verify(SECRET, NOW, signature, BODY, now=NOW + 299)


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "now"),
    [
        (SECRET, str(NOW), BODY.replace(b"hi", b"ho"), NOW),  # tampered body
        (SECRET, str(NOW), BODY, NOW + 301),  # too old
        (SECRET, str(NOW), BODY, NOW - 301),  # from the future
        ("other", str(NOW), BODY, NOW),  # another secret
        ("", str(NOW), BODY, NOW),  # no secret
        (SECRET, "yesterday", BODY, NOW),  # not a number
        (SECRET, f" {NOW}", BODY, NOW),  # not exactly what was signed
        (SECRET, "۱۷۵۰۰۰۰۰۰۰", BODY, NOW),  # Persian digits
    ],
)
def test_verify_refuses(secret, timestamp, body, now):
    signature = signing.sign(SECRET, NOW, BODY)

    assert signing.verify(secret, timestamp, signature, body, now=now) is False


@pytest.mark.parametrize("signature", ["", "sha256=", "sha256=ü", "md5=abc"])
def test_verify_refuses_malformed_signatures_without_raising(signature):
    assert signing.verify(SECRET, NOW, signature, BODY, now=NOW) is False


# --- Console and locmem ------------------------------------------------------------------------


def test_console_writes_a_readable_block():
    backend = ConsoleBackend(channel("channels.backends.console.ConsoleBackend"))
    backend.stream = io.StringIO()

    provider_id = backend.send(outgoing(subject="Receipt", text=PERSIAN_TEXT))

    assert provider_id == "console-42"
    written = backend.stream.getvalue()
    for part in ("email", "sara@example.com", "Subject: Receipt", PERSIAN_TEXT):
        assert part in written


@pytest.fixture
def outbox():
    locmem.reset()
    yield locmem.outbox
    locmem.reset()


def locmem_channel(pk=7, **settings):
    return Channel(pk=pk, name=f"mem {pk}", kind="sms", backend="x", settings=settings)


def test_locmem_appends_to_the_outbox(outbox):
    message = sms()

    assert LocmemBackend(locmem_channel()).send(message) == "locmem-42"
    assert outbox == [message]


@pytest.mark.parametrize(
    ("options", "error", "bounced"),
    [
        ({"fail": "transient"}, TransientError, False),
        ({"fail": "permanent"}, PermanentError, False),
        ({"fail": "permanent", "bounced": True}, PermanentError, True),
    ],
)
def test_locmem_fail_option_always_fails(outbox, options, error, bounced):
    backend = LocmemBackend(locmem_channel(**options))

    for _ in range(3):
        with pytest.raises(error) as caught:
            backend.send(sms())
        assert caught.value.bounced is bounced
    assert outbox == []


def test_locmem_fail_times_fails_first_then_succeeds_per_channel(outbox):
    flaky = LocmemBackend(locmem_channel(pk=1, fail_times=2))
    other = LocmemBackend(locmem_channel(pk=2, fail_times=1, fail="permanent"))

    with pytest.raises(TransientError):
        flaky.send(sms())
    with pytest.raises(PermanentError):
        other.send(sms())
    with pytest.raises(TransientError):
        LocmemBackend(locmem_channel(pk=1, fail_times=2)).send(sms())  # a new instance counts on
    assert flaky.send(sms(message_id=1)) == "locmem-1"
    assert other.send(sms(message_id=2)) == "locmem-2"
    assert [message.message_id for message in outbox] == [1, 2]
