import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from security.models import AuditEntry
from tests.customers.factories import StaffFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
ADMIN = "/admin/"
TWO_FACTOR = "/admin/two-factor/"
SETUP = "/admin/two-factor/setup/"
VERIFY = "/admin/two-factor/verify/"


@pytest.fixture
def two_factor_on(settings):
    settings.STAFF_TWO_FACTOR = True


def sign_in(client, user):
    response = client.post(
        reverse("admin:login"), {"username": user.username, "password": PASSWORD, "next": ADMIN}
    )
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def code_for(device):
    """The code the authenticator app shows now, computed from the device's key."""
    return f"{totp(TOTPDevice.objects.get(pk=device.pk).bin_key):06d}"


def set_up(client, user):
    """Through the pages: open the setup, confirm with the app's current code."""
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=user)
    response = client.post(SETUP, {"code": code_for(device), "next": ADMIN})
    assert response.status_code == 200
    return device, re.findall(r"<li><code>([a-z2-7]{8})</code></li>", response.content.decode())


def test_a_password_only_session_is_sent_from_any_admin_page_to_the_two_factor_page(
    client, two_factor_on
):
    user = StaffFactory(role="Support agent")
    sign_in(client, user)

    index = client.get(ADMIN)
    customers = client.get(reverse("admin:customers_customer_changelist"))
    posted = client.post(reverse("admin:customers_customer_add"), {"display_name": "x"})

    assert index.status_code == 302
    assert index["Location"] == f"{TWO_FACTOR}?next=%2Fadmin%2F"
    assert customers.status_code == 302
    assert customers["Location"].startswith(TWO_FACTOR)
    assert posted.status_code == 302
    assert posted["Location"] == TWO_FACTOR
    # With no device yet, the two-factor page is the setup.
    assert client.get(index["Location"])["Location"] == f"{SETUP}?next=%2Fadmin%2F"


def test_setup_shows_the_secret_and_a_real_app_code_confirms_it_with_ten_backup_codes(
    client, two_factor_on
):
    user = StaffFactory(role="Marketing", username="mina")
    sign_in(client, user)

    page = client.get(SETUP)
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    html = page.content.decode()
    assert page.status_code == 200
    assert "otpauth://totp/Omnichannel%20CRM%3Amina?secret=" in html
    assert "<svg" in html
    assert device.config_url.split("secret=")[1].split("&")[0][:4] in html.replace(" ", "")

    confirmed = client.post(SETUP, {"code": code_for(device), "next": ADMIN})
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", confirmed.content.decode())

    assert confirmed.status_code == 200
    assert len(codes) == 10
    assert StaticToken.objects.filter(device__user=user).count() == 10
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert client.get(ADMIN).status_code == 200
    entry = AuditEntry.objects.get(action=AuditEntry.Action.TWO_FACTOR)
    assert (entry.actor_label, entry.target_id, entry.details) == (
        "mina",
        str(user.pk),
        {"event": "set_up"},
    )


def test_a_wrong_code_shows_an_error_and_signs_nobody_in(client, two_factor_on):
    user = StaffFactory(role="Support agent")
    sign_in(client, user)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=user)
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"

    response = client.post(SETUP, {"code": wrong})

    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed
    assert client.get(ADMIN).status_code == 302


def test_the_next_sign_in_asks_for_the_app_code_and_persian_digits_work(client, two_factor_on):
    user = StaffFactory(role="Support agent")
    sign_in(client, user)
    device, _ = set_up(client, user)
    client.post(reverse("admin:logout"))

    with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=False):
        sign_in(client, user)
        assert client.get(ADMIN)["Location"] == f"{TWO_FACTOR}?next=%2Fadmin%2F"
        assert client.get(TWO_FACTOR + "?next=/admin/")["Location"] == f"{VERIFY}?next=%2Fadmin%2F"
        wrong = client.post(VERIFY, {"code": "000000", "next": ADMIN})
        assert "That code is not right" in wrong.content.decode()

    with time_machine.travel(timezone.now() + timedelta(minutes=3), tick=False):
        persian = code_for(device).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
        verified = client.post(VERIFY, {"code": persian, "next": ADMIN})
        assert verified.status_code == 302
        assert verified["Location"] == ADMIN
        assert client.get(ADMIN).status_code == 200


def test_an_app_code_is_accepted_only_once(client, two_factor_on):
    user = StaffFactory(role="Support agent")
    sign_in(client, user)
    device, _ = set_up(client, user)
    client.post(reverse("admin:logout"))

    with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=False):
        code = code_for(device)
        sign_in(client, user)
        assert client.post(VERIFY, {"code": code})["Location"] == ADMIN
        client.post(reverse("admin:logout"))
        sign_in(client, user)
        again = client.post(VERIFY, {"code": code})

    assert again.status_code == 200
    assert "That code is not right" in again.content.decode()


def test_a_backup_code_signs_in_once(client, two_factor_on):
    user = StaffFactory(role="Support agent")
    sign_in(client, user)
    _, codes = set_up(client, user)
    client.post(reverse("admin:logout"))

    sign_in(client, user)
    first = client.post(VERIFY, {"code": codes[0].upper(), "next": ADMIN})
    assert first["Location"] == ADMIN
    assert client.get(ADMIN).status_code == 200
    client.post(reverse("admin:logout"))

    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        sign_in(client, user)
        second = client.post(VERIFY, {"code": codes[0], "next": ADMIN})

    assert second.status_code == 200
    assert "That code is not right" in second.content.decode()
    assert client.get(ADMIN).status_code == 302
    assert StaticToken.objects.filter(device__user=user).count() == 9
    assert AuditEntry.objects.filter(details__event="backup_code_used").count() == 1


def test_after_verifying_a_staff_member_resets_their_own_device_and_sets_up_again(
    client, two_factor_on
):
    user = StaffFactory(role="Support agent", username="omid")
    sign_in(client, user)
    set_up(client, user)

    overview = client.get(TWO_FACTOR)
    reset = client.post(reverse("security:two-factor-reset"))

    assert "10 backup codes left" in overview.content.decode()
    assert reset["Location"] == SETUP
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    assert not StaticToken.objects.filter(device__user=user).exists()
    assert client.get(ADMIN).status_code == 302  # the session needs the new app first
    events = AuditEntry.objects.filter(action=AuditEntry.Action.TWO_FACTOR)
    assert list(events.values_list("details__event", flat=True)) == ["reset", "set_up"]


def test_a_password_only_session_cannot_reset_or_renew_codes(client, two_factor_on):
    user = StaffFactory(role="Support agent")
    sign_in(client, user)
    set_up(client, user)
    client.post(reverse("admin:logout"))
    sign_in(client, user)

    reset = client.post(reverse("security:two-factor-reset"))
    renew = client.post(reverse("security:two-factor-backup-codes"))

    assert reset.status_code == renew.status_code == 302
    assert TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    assert StaticToken.objects.filter(device__user=user).count() == 10


def test_new_backup_codes_replace_the_old_ones(client, two_factor_on):
    user = StaffFactory(role="Support agent")
    sign_in(client, user)
    _, old = set_up(client, user)

    response = client.post(reverse("security:two-factor-backup-codes"))
    new = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", response.content.decode())

    assert len(new) == 10
    assert set(StaticToken.objects.values_list("token", flat=True)) == set(new)
    assert not set(old) & set(new)


def test_an_administrator_resets_another_users_device_from_the_user_list(client, two_factor_on):
    lost_phone = StaffFactory(role="Support agent", username="sara")
    sign_in(client, lost_phone)
    set_up(client, lost_phone)
    admin_client = client.__class__()
    administrator = StaffFactory(role="Administrator", username="boss")
    sign_in(admin_client, administrator)
    set_up(admin_client, administrator)

    listing = admin_client.get(reverse("admin:auth_user_changelist"))
    response = admin_client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "reset_two_factor", "_selected_action": [lost_phone.pk]},
        follow=True,
    )

    assert listing.status_code == 200
    assert "Reset two-factor authentication" in listing.content.decode()
    assert "Two-factor authentication reset for 1 user" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=lost_phone).exists()
    assert TOTPDevice.objects.filter(user=administrator, confirmed=True).exists()
    entry = AuditEntry.objects.get(details__event="reset_by_administrator")
    assert (entry.actor_label, entry.target_id) == ("boss", str(lost_phone.pk))
    # The staff member's session no longer counts as verified: they set up a new app.
    assert client.get(ADMIN)["Location"].startswith(TWO_FACTOR)


def test_support_agents_get_no_reset_action_on_users(client):
    agent = StaffFactory(role="Support agent")
    other = StaffFactory(role="Support agent")
    TOTPDevice.objects.create(user=other, name="app", confirmed=True)
    client.force_login(agent)

    response = client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "reset_two_factor", "_selected_action": [other.pk]},
    )

    assert response.status_code == 403
    assert TOTPDevice.objects.filter(user=other).exists()


def test_with_the_setting_off_the_password_alone_opens_the_admin(client, settings):
    settings.STAFF_TWO_FACTOR = False
    user = StaffFactory(role="Support agent")
    sign_in(client, user)

    assert client.get(ADMIN).status_code == 200
    assert client.get(reverse("admin:customers_customer_changelist")).status_code == 200


def test_the_api_is_not_asked_for_a_second_factor(api, two_factor_on):
    assert api.get("/api/v1/customers").status_code == 200


def test_anonymous_visitors_of_the_two_factor_pages_go_to_the_login(client, two_factor_on):
    response = client.get(SETUP)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert not TOTPDevice.objects.exists()


def test_the_pages_speak_persian_right_to_left(client, two_factor_on):
    user = StaffFactory(role="Support agent")
    sign_in(client, user)

    page = client.get(SETUP, HTTP_ACCEPT_LANGUAGE="fa")

    assert page.status_code == 200
    assert 'dir="rtl"' in page.content.decode()
    assert '<code class="crm-two-factor-secret" dir="ltr">' in page.content.decode()


def test_no_admin_page_shows_anyones_secret_or_backup_codes(client):
    administrator = StaffFactory(role="Administrator")
    TOTPDevice.objects.create(user=administrator, name="app", confirmed=True)
    client.force_login(administrator)

    for path in ("/admin/otp_totp/totpdevice/", "/admin/otp_static/staticdevice/"):
        assert client.get(path, follow=True).status_code == 404
