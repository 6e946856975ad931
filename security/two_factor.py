"""Two factors for staff (django-otp): an authenticator app (TOTP) and one-use backup codes.

A staff member signs in with the password, then proves the second factor once per session.
While STAFF_TWO_FACTOR is on, ``security.middleware`` keeps a password-only session away from
every admin page but these. Every device change is written to the audit log.
"""

from __future__ import annotations

import re
from base64 import b32encode
from typing import TYPE_CHECKING

import segno
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from security import audit, lockout

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django_otp.models import Device

BACKUP_CODE_COUNT = 10
APP_DEVICE_NAME = "Authenticator app"
BACKUP_DEVICE_NAME = "Backup codes"
# Persian and Arabic-Indic digits, as a phone keyboard in fa/ar types them.
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_SEPARATORS = re.compile(r"[\s\-]+")


def is_required(user: AbstractBaseUser) -> bool:
    """Whether this user must prove a second factor to use the admin."""
    return bool(settings.STAFF_TWO_FACTOR and user.is_authenticated and user.is_staff)


def confirmed_app_device(user: AbstractBaseUser) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def has_device(user: AbstractBaseUser) -> bool:
    """Whether the user has finished setting up an authenticator app."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def backup_codes_left(user: AbstractBaseUser) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def pending_app_device(user: AbstractBaseUser) -> TOTPDevice:
    """The unconfirmed device being set up (one per user; its secret stays until confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, confirmed=False)
    return device


def secret(device: TOTPDevice) -> str:
    """The key as an authenticator app asks for it when typed in: base32, in groups of four."""
    raw = b32encode(device.bin_key).decode()
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// URI as an inline SVG QR code."""
    return segno.make(device.config_url, error="m").svg_inline(
        scale=4, border=2, dark="#000", light="#fff"
    )


def clean_code(raw: str) -> str:
    """A typed code with Persian/Arabic digits made Latin and spaces or dashes dropped."""
    return _SEPARATORS.sub("", (raw or "").translate(_DIGITS)).lower()


def _is_app_code(code: str) -> bool:
    return code.isdigit() and len(code) in (6, 8)


def _new_backup_codes(user: AbstractBaseUser) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def _sign_in(request: HttpRequest, device: Device) -> None:
    # A new session key once the second factor is proven, like Django's login() does for the
    # password: a session id seen before this point is worth nothing afterwards.
    request.session.cycle_key()
    otp_login(request, device)


def confirm_setup(request: HttpRequest, device: TOTPDevice, raw_code: str) -> list[str] | None:
    """Confirm the pending app device with its first code: the device becomes the user's, the
    session counts as verified, and the 10 new backup codes are returned (to show once).
    None when the code is wrong (a wrong code also counts towards the lockout)."""
    user = request.user
    code = clean_code(raw_code)
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user)
        ok = _is_app_code(code) and device.verify_token(code)
        if ok:
            TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            codes = _new_backup_codes(user)
            audit.record(audit.Action.TWO_FACTOR, request=request, target=user, event="set_up")
    if not ok:
        lockout.record_failure(request, user.get_username())
        return None
    _sign_in(request, device)
    return codes


def verify(request: HttpRequest, raw_code: str) -> Device | None:
    """Check a code from the app or a backup code (used up on success) for the signed-in user
    and mark the session verified. None when wrong, or when the device is throttled after
    earlier wrong codes; a wrong code also counts towards the lockout."""
    user = request.user
    code = clean_code(raw_code)
    matched: Device | None = None
    with transaction.atomic():
        model = TOTPDevice if _is_app_code(code) else StaticDevice
        device = (
            model.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk")
        ).first()
        if device is not None and code and device.verify_token(code):
            matched = device
            if isinstance(device, StaticDevice):
                audit.record(
                    audit.Action.TWO_FACTOR,
                    request=request,
                    target=user,
                    event="backup_code_used",
                    backup_codes_left=device.token_set.count(),
                )
    if matched is None:
        lockout.record_failure(request, user.get_username())
        return None
    _sign_in(request, matched)
    return matched


@transaction.atomic
def regenerate_backup_codes(request: HttpRequest) -> list[str]:
    """Replace the signed-in user's backup codes with 10 new ones (the old ones stop working)."""
    codes = _new_backup_codes(request.user)
    audit.record(
        audit.Action.TWO_FACTOR, request=request, target=request.user, event="backup_codes_new"
    )
    return codes


@transaction.atomic
def reset(user: AbstractBaseUser, *, request: HttpRequest) -> int:
    """Remove every second-factor device of ``user`` (app and backup codes); the next sign-in
    sets up a new one. Audited with the acting user from ``request``. Returns devices removed."""
    removed = TOTPDevice.objects.filter(user=user).delete()[1].get(TOTPDevice._meta.label, 0)
    removed += StaticDevice.objects.filter(user=user).delete()[1].get(StaticDevice._meta.label, 0)
    by_self = request.user.pk == user.pk
    audit.record(
        audit.Action.TWO_FACTOR,
        request=request,
        target=user,
        event="reset" if by_self else "reset_by_administrator",
        devices_removed=removed,
    )
    return removed
