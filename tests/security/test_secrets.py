"""Channel secrets at rest: encrypted in the database, readable only through the accessors,
rotated with a command, never shown back, never in a log, an error text or a message row."""

import json
import logging
import time

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError
from django.db import connection
from django.urls import reverse

from channels import services, signing
from channels.backends.base import TransientError
from channels.backends.http import HttpBackend
from channels.models import Channel, Message
from channels.services import Content
from customers.models import Interaction
from security import checks, crypto
from security.models import AuditEntry
from tests.channels.factories import channel_form
from tests.customers.factories import CustomerFactory, IdentityFactory, StaffFactory

API_KEY = "KAVE-7f3c9e1d-live-KEY"
BEARER = "tok-5b2e8a91c4d7"
PASSWORD = "hunter2-Very-Secret"
WEBHOOK = "whsec-b8d1-c0ffee-hidden"
SECRETS = [API_KEY, BEARER, PASSWORD, WEBHOOK]

KEY_1 = Fernet.generate_key().decode()
KEY_2 = Fernet.generate_key().decode()


def gateway_settings(url: str, **extra):
    return {
        "url": url,
        "api_key": API_KEY,
        "headers": {"Authorization": f"Bearer {BEARER}", "Accept": "application/json"},
        "form": {"receptor": "{{ to }}", "message": "{{ text }}"},
        "auth": {"user": "shop", "password": PASSWORD, "pin": 4321},
        **extra,
    }


def stored_row(channel):
    """The row as the database holds it (no field conversion)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT settings, webhook_secret FROM channels_channel WHERE id = %s", [channel.pk]
        )
        settings, secret = cursor.fetchone()
    return (settings if isinstance(settings, str) else json.dumps(settings)), secret


def write_raw(channel, settings: dict, secret: str):
    """A row as written before encryption existed (plaintext)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE channels_channel SET settings = %s, webhook_secret = %s WHERE id = %s",
            [json.dumps(settings), secret, channel.pk],
        )


def sms_channel(url="https://gateway.example.com/send", **extra):
    return Channel.objects.create(
        name="SMS gateway",
        kind=Channel.Kind.SMS,
        backend="channels.backends.http.HttpBackend",
        settings=gateway_settings(url, **extra),
        webhook_secret=WEBHOOK,
        sender="10004346",
    )


# --- The cipher ---------------------------------------------------------------------------------


def test_encrypted_values_are_marked_and_round_trip(settings):
    settings.CRM_ENCRYPTION_KEYS = [KEY_1]

    sealed = crypto.encrypt("سلام secret")

    assert sealed.startswith("enc:v1:")
    assert "secret" not in sealed
    assert crypto.decrypt(sealed) == "سلام secret"
    assert crypto.encrypt("same") != crypto.encrypt("same")  # a fresh IV each time
    assert crypto.reveal("legacy plaintext") == "legacy plaintext"
    assert crypto.seal(sealed) == sealed
    assert crypto.seal("") == ""


def test_a_tampered_value_or_a_foreign_key_does_not_decrypt(settings):
    settings.CRM_ENCRYPTION_KEYS = [KEY_1]
    sealed = crypto.encrypt("secret")
    tampered = sealed[:-6] + ("AAAAAA" if not sealed.endswith("AAAAAA") else "BBBBBB")

    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(tampered)
    settings.CRM_ENCRYPTION_KEYS = [KEY_2]
    with pytest.raises(crypto.DecryptionError) as caught:
        crypto.decrypt(sealed)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_rotation_keys_first_encrypts_all_decrypt(settings):
    settings.CRM_ENCRYPTION_KEYS = [KEY_1]
    old = crypto.encrypt("secret")

    settings.CRM_ENCRYPTION_KEYS = [KEY_2, KEY_1]
    assert crypto.decrypt(old) == "secret"
    assert not crypto.is_current(old)
    new = crypto.rotate(old)
    assert crypto.is_current(new)

    settings.CRM_ENCRYPTION_KEYS = [KEY_2]
    assert crypto.decrypt(new) == "secret"


# --- System checks ----------------------------------------------------------------------------


def test_no_key_outside_debug_is_a_system_error_with_a_hint(settings):
    settings.CRM_ENCRYPTION_KEYS = []
    settings.CRM_ENCRYPTION_KEY_FROM_SECRET_KEY = False

    (error,) = checks.encryption_keys()

    assert error.id == "security.E001"
    assert "Fernet.generate_key()" in error.hint
    with pytest.raises(SystemCheckError, match=r"security\.E001"):
        call_command("check", "--deploy")
    with pytest.raises(Exception, match="CRM_ENCRYPTION_KEYS"):
        crypto.encrypt("x")


def test_a_malformed_key_is_a_system_error(settings):
    settings.CRM_ENCRYPTION_KEYS = [KEY_1, "not-a-fernet-key"]

    (error,) = checks.encryption_keys()

    assert error.id == "security.E002"
    assert "position 2" in error.msg


def test_the_development_key_works_and_deploy_check_warns(settings):
    settings.CRM_ENCRYPTION_KEYS = []
    settings.CRM_ENCRYPTION_KEY_FROM_SECRET_KEY = True

    assert checks.encryption_keys() == []
    assert [w.id for w in checks.encryption_keys_deploy()] == ["security.W100"]
    assert crypto.decrypt(crypto.encrypt("dev")) == "dev"


def test_configured_keys_pass_every_check(settings):
    settings.CRM_ENCRYPTION_KEYS = [KEY_1, KEY_2]

    assert checks.encryption_keys() == []
    assert checks.encryption_keys_deploy() == []


# --- At rest ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_secret_is_encrypted_in_the_database_and_read_through_the_accessors():
    channel = sms_channel()

    settings_text, secret_text = stored_row(channel)

    for secret in SECRETS:
        assert secret not in settings_text
        assert secret not in secret_text
    assert "4321" not in settings_text  # a number under a secret key too
    assert "https://gateway.example.com/send" in settings_text  # not a secret
    assert secret_text.startswith("enc:v1:")
    fresh = Channel.objects.get(pk=channel.pk)
    assert fresh.settings["api_key"].startswith("enc:v1:")  # the attribute holds what is stored
    assert fresh.plain_settings() == gateway_settings("https://gateway.example.com/send")
    assert fresh.plain_settings()["auth"]["pin"] == 4321
    assert fresh.plain_webhook_secret() == WEBHOOK
    for secret in SECRETS:
        assert secret not in repr(fresh)
        assert secret not in str(fresh)
        assert secret not in json.dumps(fresh.public_settings)


@pytest.mark.django_db
def test_bulk_create_and_update_encrypt_too():
    (channel,) = Channel.objects.bulk_create(
        [Channel(name="bulk", kind="sms", settings={"token": API_KEY}, webhook_secret=WEBHOOK)]
    )
    channel = Channel.objects.get(name="bulk")
    assert API_KEY not in stored_row(channel)[0]
    assert WEBHOOK not in stored_row(channel)[1]

    Channel.objects.filter(pk=channel.pk).update(
        settings={"token": PASSWORD}, webhook_secret=BEARER
    )

    settings_text, secret_text = stored_row(channel)
    assert PASSWORD not in settings_text
    assert BEARER not in secret_text
    channel.refresh_from_db()
    assert channel.plain_settings() == {"token": PASSWORD}
    assert channel.plain_webhook_secret() == BEARER


@pytest.mark.django_db
def test_a_legacy_plaintext_row_still_works_and_the_next_save_encrypts_it():
    channel = sms_channel()
    write_raw(channel, {"api_key": API_KEY}, WEBHOOK)
    channel.refresh_from_db()

    assert channel.plain_settings() == {"api_key": API_KEY}
    assert channel.plain_webhook_secret() == WEBHOOK
    channel.save()
    assert API_KEY not in stored_row(channel)[0]
    assert stored_row(channel)[1].startswith("enc:v1:")


@pytest.mark.django_db(transaction=True)
def test_the_data_migration_encrypts_existing_rows_and_reverses():
    from django.db.migrations.executor import MigrationExecutor

    before, after = ("channels", "0003_lean_indexes"), ("channels", "0004_encrypt_channel_secrets")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    try:
        old = executor.loader.project_state([before]).apps.get_model("channels", "Channel")
        row = old.objects.create(
            name="legacy",
            kind="sms",
            settings={"api_key": API_KEY, "url": "u"},
            webhook_secret=WEBHOOK,
        )
        executor = MigrationExecutor(connection)
        executor.migrate([after])
        channel = Channel.objects.get(pk=row.pk)
        assert API_KEY not in stored_row(channel)[0]
        assert stored_row(channel)[1].startswith("enc:v1:")
        assert channel.plain_settings() == {"api_key": API_KEY, "url": "u"}

        executor = MigrationExecutor(connection)
        executor.migrate([before])
        settings_text, secret = stored_row(channel)
        assert json.loads(settings_text) == {"api_key": API_KEY, "url": "u"}
        assert secret == WEBHOOK
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


# --- Rotation -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rotate_secrets_reencrypts_with_the_first_key_and_is_idempotent(settings, capsys):
    settings.CRM_ENCRYPTION_KEYS = [KEY_1]
    channel = sms_channel()
    legacy = Channel.objects.create(name="legacy", kind="email")
    write_raw(legacy, {"password": PASSWORD}, WEBHOOK)

    settings.CRM_ENCRYPTION_KEYS = [KEY_2, KEY_1]
    call_command("rotate_secrets", "--dry-run")
    assert "6 secret(s) would be re-encrypted" in capsys.readouterr().out
    assert stored_row(legacy)[1] == WEBHOOK  # a dry run writes nothing

    call_command("rotate_secrets")
    # api_key, Authorization, auth.user/password/pin, the webhook secret; the legacy row's two.
    assert capsys.readouterr().out.startswith(
        "6 secret(s) were re-encrypted with the first key, 2 plaintext secret(s) were "
        "encrypted, 0 already current (2 row(s) were updated)."
    )

    call_command("rotate_secrets")
    assert capsys.readouterr().out.startswith(
        "0 secret(s) were re-encrypted with the first key, 0 plaintext secret(s) were "
        "encrypted, 8 already current (0 row(s) were updated)."
    )

    settings.CRM_ENCRYPTION_KEYS = [KEY_2]  # the old key dropped
    channel.refresh_from_db()
    legacy.refresh_from_db()
    assert channel.plain_settings() == gateway_settings("https://gateway.example.com/send")
    assert channel.plain_webhook_secret() == WEBHOOK
    assert legacy.plain_settings() == {"password": PASSWORD}
    assert stored_row(legacy)[1].startswith("enc:v1:")


@pytest.mark.django_db
def test_rotate_secrets_names_rows_no_key_opens(settings):
    settings.CRM_ENCRYPTION_KEYS = [KEY_1]
    channel = sms_channel()
    settings.CRM_ENCRYPTION_KEYS = [KEY_2]

    with pytest.raises(CommandError, match=f"channels.Channel {channel.pk}"):
        call_command("rotate_secrets")


# --- Using them ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_backend_sends_the_plaintext_credentials(httpserver):
    httpserver.expect_request(
        f"/v1/{API_KEY}/send", method="POST", headers={"Authorization": f"Bearer {BEARER}"}
    ).respond_with_json({"ok": True})
    channel = sms_channel(httpserver.url_for("/v1/{{ api_key }}/send"))

    HttpBackend(Channel.objects.get(pk=channel.pk)).send(_outgoing())

    httpserver.check_assertions()
    assert len(httpserver.log) == 1


@pytest.mark.django_db
def test_a_webhook_signed_with_the_plaintext_secret_is_accepted(client):
    channel = sms_channel()
    body = json.dumps({"id": "nope", "status": "delivered"}).encode()
    timestamp = int(time.time())

    response = client.post(
        reverse("channels:hook-status", args=[channel.pk]),
        body,
        content_type="application/json",
        headers={
            signing.TIMESTAMP_HEADER: str(timestamp),
            signing.SIGNATURE_HEADER: signing.sign(WEBHOOK, timestamp, body),
        },
    )

    assert response.status_code == 404  # authenticated; the message is unknown
    assert response.json()["code"] == "unknown_message"


@pytest.mark.django_db
def test_a_secret_no_key_opens_is_a_clean_error_not_a_crash(client, settings, caplog):
    settings.CRM_ENCRYPTION_KEYS = [KEY_1]
    channel = sms_channel()
    settings.CRM_ENCRYPTION_KEYS = [KEY_2]  # KEY_1 dropped before rotating

    response = client.post(
        reverse("channels:hook-status", args=[channel.pk]),
        {"id": "x", "status": "delivered"},
        content_type="application/json",
        headers={"X-Webhook-Secret": WEBHOOK},
    )
    assert response.status_code == 503
    assert response.json()["code"] == "secret_unavailable"
    with pytest.raises(TransientError, match="CRM_ENCRYPTION_KEYS"):
        Channel.objects.get(pk=channel.pk).get_backend().send(_outgoing())


def _outgoing():
    from channels.backends.base import Outgoing

    return Outgoing(message_id=1, kind="sms", to="+989121234567", text="Hello")


# --- Never logged -------------------------------------------------------------------------------


def _customer_with_phone():
    customer = CustomerFactory(first_name="Sara")
    IdentityFactory(customer=customer, kind="phone", value="+989121234567")
    return customer


def _everything_said(caplog, message):
    interactions = list(
        Interaction.objects.filter(customer=message.customer).values_list(
            "name", "properties", "context"
        )
    )
    return "\n".join(
        [
            caplog.text,
            "\n".join(r.getMessage() for r in caplog.records),
            message.reason,
            json.dumps(message.context),
            message.text,
            json.dumps(interactions, default=str),
        ]
    )


@pytest.mark.django_db
def test_a_failing_send_through_the_http_backend_logs_no_secret(httpserver, caplog):
    # set_level also sets the capturing handler's level: the last call (DEBUG) decides it.
    caplog.set_level(logging.WARNING, logger="werkzeug")  # the fake provider's own access log
    caplog.set_level(logging.DEBUG, logger="httpx")  # even with httpx's request log on
    caplog.set_level(logging.DEBUG)
    # A gateway that echoes the request (key in the URL, the Authorization header) in its error.
    httpserver.expect_request(f"/v1/{API_KEY}/send").respond_with_json(
        {"error": f"bad key {API_KEY}", "auth": f"Bearer {BEARER}", "pw": PASSWORD}, status=400
    )
    channel = sms_channel(httpserver.url_for("/v1/{{ api_key }}/send"))
    customer = _customer_with_phone()

    message = services.send(
        customer,
        purpose="transactional",
        idempotency_key="secret-test:1",
        channels=["sms"],
        content=Content("Your code is 1234"),
    )
    outcome = services.deliver(message.pk)

    message.refresh_from_db()
    assert outcome == "failed"
    assert message.status == Message.Status.FAILED
    assert "400" in message.reason
    said = _everything_said(caplog, message)
    assert "HTTP Request" in caplog.text  # httpx did log the request, masked
    for secret in SECRETS:
        assert secret not in said
    assert channel.pk == message.channel_id


class LeakyBackend(HttpBackend):
    """A backend with a bug whose exception text holds a credential."""

    def send(self, message):
        raise RuntimeError(f"unexpected answer for key {self.settings['api_key']}")


@pytest.mark.django_db
def test_an_unexpected_backend_exception_is_retried_with_its_secrets_masked(caplog):
    caplog.set_level(logging.DEBUG)
    channel = sms_channel()
    Channel.objects.filter(pk=channel.pk).update(backend="tests.security.test_secrets.LeakyBackend")
    message = services.send(
        _customer_with_phone(),
        purpose="transactional",
        idempotency_key="secret-test:2",
        channels=["sms"],
        content=Content("Hello"),
    )

    assert services.deliver(message.pk) == "retry"

    message.refresh_from_db()
    assert "RuntimeError" in message.reason
    assert "channels.backend_crashed" in caplog.text  # the traceback is logged, masked
    assert "Traceback" in caplog.text
    for secret in SECRETS:
        assert secret not in _everything_said(caplog, message)


# --- The admin ----------------------------------------------------------------------------------


@pytest.fixture
def admin(client):
    user = StaffFactory(role="Administrator")
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_the_admin_never_shows_a_secret_back(admin):
    channel = sms_channel()

    page = admin.get(reverse("admin:channels_channel_change", args=[channel.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    for secret in [*SECRETS, "enc:v1:"]:
        assert secret not in html
    assert "••••••" in html


@pytest.mark.django_db
def test_changing_secrets_in_the_admin_is_audited_by_name_only(admin):
    channel = sms_channel()
    shown = {**channel.public_settings, "api_key": "KAVE-new-key-0001"}

    response = admin.post(
        reverse("admin:channels_channel_change", args=[channel.pk]),
        channel_form(channel, settings=json.dumps(shown), webhook_secret="whsec-new-value-77"),
    )

    assert response.status_code == 302
    entry = AuditEntry.objects.get(action=AuditEntry.Action.SECRET_CHANGE)
    assert entry.details == {"keys": ["api_key", "webhook_secret"]}
    assert entry.target_id == str(channel.pk)
    channel.refresh_from_db()
    assert channel.plain_settings()["api_key"] == "KAVE-new-key-0001"
    assert channel.plain_settings()["headers"]["Authorization"] == f"Bearer {BEARER}"
    assert channel.plain_webhook_secret() == "whsec-new-value-77"
    stored = json.dumps(list(AuditEntry.objects.values_list("details", flat=True)))
    for secret in ["KAVE-new-key-0001", "whsec-new-value-77", *SECRETS]:
        assert secret not in stored


@pytest.mark.django_db
def test_saving_without_touching_secrets_audits_nothing_and_keeps_them(admin):
    channel = sms_channel()

    response = admin.post(
        reverse("admin:channels_channel_change", args=[channel.pk]),
        channel_form(channel, sender="Shop"),
    )

    assert response.status_code == 302
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.SECRET_CHANGE).exists()
    channel.refresh_from_db()
    assert channel.sender == "Shop"
    assert channel.plain_webhook_secret() == WEBHOOK
    assert channel.plain_settings() == gateway_settings("https://gateway.example.com/send")


@pytest.mark.django_db
def test_removing_a_secret_and_adding_a_channel_are_audited(admin):
    channel = sms_channel()
    settings = {k: v for k, v in channel.public_settings.items() if k != "auth"}
    admin.post(
        reverse("admin:channels_channel_change", args=[channel.pk]),
        channel_form(channel, settings=json.dumps(settings), clear_webhook_secret="on"),
    )
    new = Channel(name="Mail", kind="email", backend="channels.backends.smtp.SmtpBackend")
    admin.post(
        reverse("admin:channels_channel_add"),
        channel_form(new, settings=json.dumps({"password": PASSWORD}), webhook_secret=WEBHOOK),
    )

    details = list(
        AuditEntry.objects.filter(action=AuditEntry.Action.SECRET_CHANGE)
        .order_by("pk")
        .values_list("details", flat=True)
    )
    assert details == [
        {"keys": ["auth.password", "auth.pin", "auth.user", "webhook_secret"]},
        {"keys": ["password", "webhook_secret"]},
    ]


@pytest.mark.django_db
def test_a_pasted_encrypted_value_is_refused(admin):
    channel = sms_channel()
    sealed = Channel.objects.get(pk=channel.pk).settings["api_key"]

    response = admin.post(
        reverse("admin:channels_channel_change", args=[channel.pk]),
        channel_form(
            channel,
            settings=json.dumps({**channel.public_settings, "api_key": sealed}),
            webhook_secret=sealed,
        ),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "settings" in errors
    assert "webhook_secret" in errors
