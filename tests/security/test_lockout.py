from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.customers.factories import StaffFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
LOCKED = "Too many failed sign-in attempts"


def attempt(client, username, password, **extra):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": "/admin/"},
        **extra,
    )


def test_five_wrong_passwords_lock_the_account_from_that_address_until_the_cool_off(client):
    user = StaffFactory(role="Support agent", username="reza")
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        wrong = [attempt(client, "reza", f"guess-{n}") for n in range(5)]
        right = attempt(client, "reza", PASSWORD)

    assert [r.status_code for r in wrong[:4]] == [200] * 4  # the form again, with its error
    assert wrong[4].status_code == 429
    page = wrong[4].content.decode()
    assert LOCKED in page
    assert "Try again in 15 minutes" in page
    assert wrong[4]["Retry-After"] == "900"
    # Even the right password is refused while locked, and nobody is signed in.
    assert right.status_code == 429
    assert LOCKED in right.content.decode()
    assert "_auth_user_id" not in client.session

    with time_machine.travel(start + timedelta(minutes=14), tick=False):
        assert attempt(client, "reza", PASSWORD).status_code == 429
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        after = attempt(client, "reza", PASSWORD)
        assert after.status_code == 302
        assert client.get("/admin/").status_code == 200
    assert client.session["_auth_user_id"] == str(user.pk)


def test_the_lock_holds_one_username_from_one_address(client):
    StaffFactory(role="Support agent", username="reza")
    StaffFactory(role="Support agent", username="nasrin")
    for n in range(5):
        attempt(client, "reza", f"guess-{n}")

    elsewhere = attempt(Client(), "reza", PASSWORD, REMOTE_ADDR="10.1.2.3")
    colleague = attempt(Client(), "nasrin", PASSWORD)

    assert elsewhere.status_code == 302
    assert colleague.status_code == 302


def test_the_lockout_page_speaks_the_visitors_language(client):
    StaffFactory(role="Support agent", username="reza")
    for n in range(4):
        attempt(client, "reza", f"guess-{n}")

    locked = attempt(client, "reza", "guess-5", HTTP_ACCEPT_LANGUAGE="fa")

    assert locked.status_code == 429
    assert 'dir="rtl"' in locked.content.decode()


def test_wrong_second_factor_codes_count_too_and_end_the_password_session(client, settings):
    settings.STAFF_TWO_FACTOR = True
    user = StaffFactory(role="Support agent", username="reza")
    TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        assert attempt(client, "reza", PASSWORD).status_code == 302
        responses = []
        for n in range(5):
            # Past django-otp's own growing wait between wrong codes (1 s, 2 s, 4 s, ...).
            with time_machine.travel(start + timedelta(seconds=20 * n), tick=False):
                responses.append(client.post("/admin/two-factor/verify/", {"code": "000000"}))
        right_password = attempt(client, "reza", PASSWORD)

    assert [r.status_code for r in responses] == [200, 200, 200, 200, 429]
    assert LOCKED in responses[-1].content.decode()
    assert "_auth_user_id" not in client.session
    assert right_password.status_code == 429


def test_the_test_clients_login_still_works(client):
    StaffFactory(role="Support agent", username="reza")

    assert client.login(username="reza", password=PASSWORD)
    assert client.get("/admin/").status_code == 200
