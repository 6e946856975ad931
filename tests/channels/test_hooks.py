import json
import time
from urllib.parse import urlencode

import pytest

from channels import signing
from channels.inbound import OPT_OUT_KEYWORDS, opt_out_keyword
from channels.models import Channel, Message
from customers.models import Consent, Customer, Identity, Interaction
from tests.channels.factories import ChannelFactory, MessageFactory
from tests.customers.concurrency import run_together
from tests.customers.factories import CustomerFactory, IdentityFactory

pytestmark = pytest.mark.django_db

PHONE = "+989121234567"


def status_url(channel):
    return f"/hooks/{channel.pk}/status"


def inbound_url(channel):
    return f"/hooks/{channel.pk}/inbound"


def post_json(client, url, payload, *, secret=None, headers=None, raw=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = dict(headers or {})
    if secret is not None:
        headers["X-Webhook-Secret"] = secret
    return client.post(url, body, content_type="application/json", headers=headers)


def post_signed(client, url, payload, secret, *, timestamp=None):
    body = json.dumps(payload).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.sign(secret, timestamp, body),
    }
    return client.post(url, body, content_type="application/json", headers=headers)


def post_form(client, url, fields, *, secret):
    return client.post(
        f"{url}?{urlencode({'secret': secret})}",
        urlencode(fields),
        content_type="application/x-www-form-urlencoded",
    )


def error_code(response):
    assert response["Content-Type"] == "application/json"
    return response.json()["code"]


@pytest.fixture
def email_message():
    return MessageFactory()


@pytest.fixture
def sms():
    return ChannelFactory(kind=Channel.Kind.SMS, backend="channels.backends.twilio.TwilioBackend")


@pytest.fixture
def sms_message(sms):
    customer = CustomerFactory()
    address = IdentityFactory(customer=customer, kind="phone", value=PHONE)
    return MessageFactory(customer=customer, channel=sms, address=address)


# --- Method, channel, auth --------------------------------------------------------------------


def test_get_is_405_json(client, sms):
    response = client.get(status_url(sms))
    assert (response.status_code, error_code(response)) == (405, "method_not_allowed")
    assert response["Allow"] == "POST"


def test_an_unknown_channel_is_404_and_one_without_a_secret_403(client, sms):
    missing = post_json(client, "/hooks/999999/status", {}, secret="x")
    assert (missing.status_code, error_code(missing)) == (404, "unknown_channel")
    bare = ChannelFactory(webhook_secret="")
    refused = post_json(client, status_url(bare), {}, secret="")
    assert (refused.status_code, error_code(refused)) == (403, "webhooks_disabled")


@pytest.mark.parametrize("secret", [None, "", "wrong", "whsec-ünïcode"])
def test_a_missing_or_wrong_secret_is_401(client, email_message, secret):
    payload = {"id": email_message.provider_id, "status": "delivered"}
    response = post_json(client, status_url(email_message.channel), payload, secret=secret)
    assert (response.status_code, error_code(response)) == (401, "unauthorized")
    assert Message.objects.get(pk=email_message.pk).status == "sent"


def test_a_bad_or_stale_signature_is_401_even_beside_a_good_secret(client, email_message):
    channel = email_message.channel
    payload = {"id": email_message.provider_id, "status": "delivered"}
    forged = post_signed(client, status_url(channel), payload, "not-the-secret")
    stale = post_signed(
        client, status_url(channel), payload, channel.webhook_secret, timestamp=1_000_000
    )
    body = json.dumps(payload).encode()
    mixed = post_json(
        client,
        status_url(channel),
        payload,
        secret=channel.webhook_secret,
        headers={signing.TIMESTAMP_HEADER: "1", signing.SIGNATURE_HEADER: "sha256=00"},
        raw=body,
    )
    for response in (forged, stale, mixed):
        assert (response.status_code, error_code(response)) == (401, "invalid_signature")
    assert Message.objects.get(pk=email_message.pk).status == "sent"


def test_a_good_signature_is_accepted(client, email_message):
    channel = email_message.channel
    payload = {"id": email_message.provider_id, "status": "delivered"}
    response = post_signed(client, status_url(channel), payload, channel.webhook_secret)
    assert response.status_code == 200, response.content
    assert response.json() == {"ok": True, "status": "delivered"}


# --- Delivery receipts --------------------------------------------------------------------------


def test_a_receipt_moves_a_sent_message_to_delivered_on_the_timeline(client, email_message):
    channel = email_message.channel
    payload = {"id": email_message.provider_id, "status": "delivered"}
    response = post_json(client, status_url(channel), payload, secret=channel.webhook_secret)
    assert response.status_code == 200
    email_message.refresh_from_db()
    assert email_message.status == "delivered"
    assert email_message.delivered_at is not None
    row = Interaction.objects.get(customer=email_message.customer, name="Message Delivered")
    assert row.properties["message"] == email_message.pk


def test_a_twilio_callback_with_30003_bounces_the_message_and_the_address(client, sms_message):
    fields = {
        "MessageSid": sms_message.provider_id,
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
    }
    response = post_form(
        client, status_url(sms_message.channel), fields, secret=sms_message.channel.webhook_secret
    )
    assert response.status_code == 200, response.content
    sms_message.refresh_from_db()
    assert sms_message.status == "bounced"
    assert "30003" in sms_message.reason
    assert Identity.objects.get(value=PHONE).bounced_at is not None
    assert Interaction.objects.filter(name="Message Bounced").exists()


@pytest.mark.parametrize(
    ("twilio_status", "code", "expected"),
    [
        ("failed", "30008", "failed"),
        ("undelivered", "", "failed"),
        ("sent", "", "sent"),
        ("queued", "", "sent"),
        ("delivered", "", "delivered"),
    ],
)
def test_twilio_statuses_map_to_ours(client, sms_message, twilio_status, code, expected):
    fields = {"MessageSid": sms_message.provider_id, "MessageStatus": twilio_status}
    if code:
        fields["ErrorCode"] = code
    response = post_form(
        client, status_url(sms_message.channel), fields, secret=sms_message.channel.webhook_secret
    )
    assert response.status_code == 200
    assert Message.objects.get(pk=sms_message.pk).status == expected
    assert Identity.objects.get(value=PHONE).bounced_at is None


def test_a_receipt_for_an_unknown_id_is_404(client, email_message):
    channel = email_message.channel
    payload = {"id": "nobody-sent-this", "status": "delivered"}
    response = post_json(client, status_url(channel), payload, secret=channel.webhook_secret)
    assert (response.status_code, error_code(response)) == (404, "unknown_message")


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00\xff garbage",
        b"[1, 2]",
        b'{"id": "x", "status": "exploded"}',
        b'{"status": "delivered"}',
        b'{"id": {"nested": 1}, "status": "delivered"}',
        b"[" * 100_000,
    ],
)
def test_a_garbage_body_is_400_json(client, email_message, raw):
    channel = email_message.channel
    response = post_json(client, status_url(channel), None, secret=channel.webhook_secret, raw=raw)
    assert (response.status_code, error_code(response)) == (400, "invalid_body")


# --- Inbound replies ----------------------------------------------------------------------------


def reply(client, channel, sender, text, provider_id):
    payload = {"from": sender, "text": text, "id": provider_id}
    return post_json(client, inbound_url(channel), payload, secret=channel.webhook_secret)


def test_a_reply_lands_on_the_timeline_and_stamps_replied_at(client, sms_message):
    # The sender's number in Persian digits and national form: the same identity.
    response = reply(client, sms_message.channel, "۰۹۱۲ ۱۲۳ ۴۵۶۷", "Is the sale on Friday?", "in-1")
    assert response.status_code == 200, response.content
    assert response.json() == {"ok": True, "opted_out": False, "duplicate": False}
    row = Interaction.objects.get(name="Message Received")
    assert row.customer_id == sms_message.customer_id
    assert (row.type, row.direction, row.channel) == ("message", "in", "sms")
    assert row.summary == "Is the sale on Friday?"
    assert row.properties["provider_id"] == "in-1"
    assert row.properties["channel"] == sms_message.channel.pk
    assert row.properties["in_reply_to"] == sms_message.pk
    sms_message.refresh_from_db()
    assert sms_message.replied_at is not None
    assert Interaction.objects.filter(name="Message Replied").count() == 1
    assert not Consent.objects.exists()


@pytest.mark.parametrize("text", ["لغو۱۱", "لغو 11", " لغو11 ", "dayandır", "DAYANDIR", "Stop!"])
def test_an_opt_out_keyword_withdraws_marketing_for_the_sender(client, sms_message, text):
    response = reply(client, sms_message.channel, PHONE, text, "in-stop")
    assert response.status_code == 200, response.content
    assert response.json()["opted_out"] is True
    consent = Consent.objects.get(identity__value=PHONE, purpose="marketing")
    assert consent.status == "withdrawn"
    assert consent.proof["method"] == "reply keyword"
    assert consent.proof["provider_id"] == "in-stop"
    assert consent.proof["keyword"] in OPT_OUT_KEYWORDS
    change = Interaction.objects.get(name="Consent Changed")
    assert change.properties["status"] == "withdrawn"


def test_a_twilio_whatsapp_reply_is_read_from_the_form(client, sms_message):
    whatsapp = ChannelFactory(kind=Channel.Kind.WHATSAPP)
    fields = {"From": f"whatsapp:{PHONE}", "Body": "إلغاء", "MessageSid": "SM123"}
    response = post_form(client, inbound_url(whatsapp), fields, secret=whatsapp.webhook_secret)
    assert response.status_code == 200, response.content
    assert response.json()["opted_out"] is True
    row = Interaction.objects.get(name="Message Received")
    assert (row.customer_id, row.channel) == (sms_message.customer_id, "whatsapp")
    assert Consent.objects.get(identity__value=PHONE).status == "withdrawn"


def test_a_replay_of_the_same_inbound_id_adds_nothing(client, sms_message):
    first = reply(client, sms_message.channel, PHONE, "لغو۱۱", "in-7")
    counts = (Interaction.objects.count(), Consent.objects.count())
    # The customer opts in again; the provider then retries the old STOP.
    Consent.objects.update(status="granted")
    again = reply(client, sms_message.channel, PHONE, "لغو۱۱", "in-7")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["duplicate"] is True
    assert (Interaction.objects.count(), Consent.objects.count()) == counts
    assert Consent.objects.get().status == "granted"


def test_an_unknown_sender_becomes_a_customer(client, sms):
    response = reply(client, sms, "+994501234567", "Salam", "in-9")
    assert response.status_code == 200
    identity = Identity.objects.get(kind="phone", value="+994501234567")
    assert Interaction.objects.get(name="Message Received").customer_id == identity.customer_id
    assert Customer.objects.count() == 1


def test_a_reply_that_merely_mentions_stop_is_conversation(client, sms_message):
    response = reply(client, sms_message.channel, PHONE, "please don't stop the sale", "in-3")
    assert response.json()["opted_out"] is False
    assert not Consent.objects.exists()


def test_a_sender_that_is_not_an_address_is_400(client, sms):
    response = reply(client, sms, "not a phone", "hi", "in-4")
    assert (response.status_code, error_code(response)) == (400, "invalid_sender")
    assert not Customer.objects.exists()


def test_inbound_garbage_is_400_json(client, sms):
    response = post_json(client, inbound_url(sms), None, secret=sms.webhook_secret, raw=b"{")
    assert (response.status_code, error_code(response)) == (400, "invalid_body")


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("STOP", "STOP"),
        ("unsubscribe", "UNSUBSCRIBE"),
        ("لغو", "لغو"),
        ("لغو ۱۱", "لغو۱۱"),
        ("لغو١١", "لغو۱۱"),
        ("۱۱", "11"),
        ("الغاء", "إلغاء"),
        ("Dayandır", "dayandır"),
        ("stop please", None),
        ("", None),
    ],
)
def test_opt_out_keywords_fold_case_digits_and_spaces(text, keyword):
    assert opt_out_keyword(text) == keyword


def test_a_body_over_the_limit_is_413_json(client, sms):
    raw = b'{"from": "' + b"1" * (300 * 1024) + b'"}'
    response = post_json(client, inbound_url(sms), None, secret=sms.webhook_secret, raw=raw)
    assert (response.status_code, error_code(response)) == (413, "payload_too_large")


def test_a_whatsapp_read_receipt_stamps_opened(client, sms_message):
    fields = {"MessageSid": sms_message.provider_id, "MessageStatus": "read"}
    response = post_form(
        client, status_url(sms_message.channel), fields, secret=sms_message.channel.webhook_secret
    )
    assert response.status_code == 200
    assert Message.objects.get(pk=sms_message.pk).opened_at is not None


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_one_new_senders_stop_at_once_record_it_once(postgres_only):
    from channels.inbound import receive_reply

    channel = ChannelFactory(kind=Channel.Kind.SMS)

    def deliver():
        receive_reply(channel, sender="+994501234567", text="STOP", provider_id="race-1")

    assert run_together(deliver, deliver, deliver) == []
    assert Customer.objects.count() == 1
    assert Interaction.objects.filter(name="Message Received").count() == 1
    assert Interaction.objects.filter(name="Consent Changed").count() == 1
    assert Consent.objects.get().status == "withdrawn"
