"""The two-factor pages of the admin: set up, verify, backup codes, reset. Wrapped in
``admin.site.admin_view`` (security/urls.py): active staff only, CSRF-protected, never cached."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from security import lockout, two_factor
from security.forms import AppCodeForm, CodeForm

WRONG_CODE = gettext_lazy(
    "That code is not right, or too many wrong codes came too fast: wait a moment, then type "
    "the code shown now (or one of your backup codes)."
)


def _next(request: HttpRequest) -> str:
    """Where to go after verifying: a local ``next``, else the admin's index."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("admin:index")


def _with_next(name: str, request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next")
    url = reverse(name)
    return f"{url}?{urlencode({'next': target})}" if target else url


def _render(request: HttpRequest, template: str, title: str, **context: object) -> HttpResponse:
    return TemplateResponse(
        request,
        f"security/{template}",
        {**admin.site.each_context(request), "title": title, "next": _next(request), **context},
    )


def _locked_out(request: HttpRequest, username: str) -> HttpResponse:
    # The password session ends: after the cool-off the person starts again from the password.
    logout(request)
    return lockout.lockout_response(request, credentials={"username": username})


def index(request: HttpRequest) -> HttpResponse:
    """Set up when there is no app yet, verify when this session has not, else the overview."""
    user = request.user
    if not two_factor.has_device(user):
        return redirect(_with_next("security:two-factor-setup", request))
    if not user.is_verified():
        return redirect(_with_next("security:two-factor-verify", request))
    return _render(
        request,
        "two_factor.html",
        _("Two-factor authentication"),
        device=two_factor.confirmed_app_device(user),
        backup_codes_left=two_factor.backup_codes_left(user),
        required=two_factor.is_required(user),
    )


def setup(request: HttpRequest) -> HttpResponse:
    """Show the new secret (QR code, otpauth:// URI, typed key); the first code confirms it and
    the 10 backup codes are shown, once."""
    user = request.user
    if two_factor.has_device(user):
        return redirect(_with_next("security:two-factor", request))
    device = two_factor.pending_app_device(user)
    form = AppCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = two_factor.confirm_setup(request, device, form.cleaned_data["code"])
        if codes is not None:
            return _render(
                request, "backup_codes.html", _("Your backup codes"), codes=codes, new_setup=True
            )
        if getattr(request, "axes_locked_out", False):
            return _locked_out(request, user.get_username())
        form.add_error("code", WRONG_CODE)
    return _render(
        request,
        "setup.html",
        _("Set up two-factor authentication"),
        form=form,
        secret=two_factor.secret(device),
        otpauth_uri=device.config_url,
        qr_svg=two_factor.qr_svg(device),
        required=two_factor.is_required(user),
    )


def verify(request: HttpRequest) -> HttpResponse:
    """Ask for a code from the app or a backup code."""
    user = request.user
    if not two_factor.has_device(user):
        return redirect(_with_next("security:two-factor-setup", request))
    if user.is_verified():
        return redirect(_next(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST":
        username = user.get_username()
        if lockout.is_locked(request, username):
            return _locked_out(request, username)
        if form.is_valid():
            if two_factor.verify(request, form.cleaned_data["code"]) is not None:
                return redirect(_next(request))
            if getattr(request, "axes_locked_out", False):
                return _locked_out(request, username)
            form.add_error("code", WRONG_CODE)
    return _render(request, "verify.html", _("Two-factor authentication"), form=form)


def backup_codes(request: HttpRequest) -> HttpResponse:
    """POST: replace the backup codes and show the new ones once."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not (two_factor.has_device(request.user) and request.user.is_verified()):
        return redirect(_with_next("security:two-factor", request))
    codes = two_factor.regenerate_backup_codes(request)
    return _render(request, "backup_codes.html", _("Your backup codes"), codes=codes)


def reset(request: HttpRequest) -> HttpResponse:
    """POST: remove this user's own app and backup codes (after verifying), then set up anew."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not (two_factor.has_device(request.user) and request.user.is_verified()):
        return redirect(_with_next("security:two-factor", request))
    two_factor.reset(request.user, request=request)
    messages.success(
        request, _("Two-factor authentication was reset. Set up your authenticator app again.")
    )
    return redirect("security:two-factor-setup")
