import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings

from tests.customers.factories import StaffFactory

BASE_DIR = Path(django_settings.BASE_DIR)
SETTINGS_DUMP = """
import json, django
from django.conf import settings as s
django.setup()
print(json.dumps({name: getattr(s, name) for name in [
    "DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_AGE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "CSRF_TRUSTED_ORIGINS",
    "STAFF_TWO_FACTOR", "AXES_FAILURE_LIMIT",
]}))
"""


def production_env(tmp_path, **extra):
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "SECURE_", "STAFF_", "AXES_", "CSRF_", "SESSION_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="0",
        SECRET_KEY="p8Zr!w2Lq#9vTn4@Xc7$Hb1%Ks6^Jd3&Fm5*Gy0(Ua)Ve-Wi_Ox+Pt=Re",
        ALLOWED_HOSTS="crm.example.com",
        CRM_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        VAR_DIR=str(tmp_path),
        **extra,
    )
    return env


def run(args, env):
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=180
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(tmp_path)
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_turns_on_secure_cookies_hsts_https_and_two_factors(tmp_path):
    result = run(["-c", SETTINGS_DUMP], production_env(tmp_path))
    values = json.loads(result.stdout.strip().splitlines()[-1])

    assert values == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_AGE": 12 * 3600,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 365 * 24 * 3600,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "CSRF_TRUSTED_ORIGINS": [],
        "STAFF_TWO_FACTOR": True,
        "AXES_FAILURE_LIMIT": 5,
    }


def test_the_environment_adjusts_production_behind_a_tls_proxy(tmp_path):
    env = production_env(
        tmp_path,
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="600",
        CSRF_TRUSTED_ORIGINS="https://crm.example.com,https://crm2.example.com",
        SESSION_COOKIE_AGE="3600",
    )
    values = json.loads(run(["-c", SETTINGS_DUMP], env).stdout.strip().splitlines()[-1])

    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_HSTS_SECONDS"] == 600
    assert values["SESSION_COOKIE_AGE"] == 3600
    assert values["CSRF_TRUSTED_ORIGINS"] == [
        "https://crm.example.com",
        "https://crm2.example.com",
    ]
    assert values["STAFF_TWO_FACTOR"] is True


@pytest.mark.django_db
def test_with_production_security_http_redirects_to_https_and_https_gets_hsts(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 365 * 24 * 3600
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    StaffFactory(username="reza")

    plain = client.get("/admin/login/")
    secure = client.post(
        "/admin/login/",
        {"username": "reza", "password": "correct horse battery staple"},
        HTTP_X_FORWARDED_PROTO="https",
    )

    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/admin/login/"
    assert secure["Strict-Transport-Security"] == "max-age=31536000"
    cookie = secure.cookies["sessionid"]
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["max-age"] == 12 * 3600
