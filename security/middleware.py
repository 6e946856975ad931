"""Keep a staff member who signed in with the password alone away from the admin until the
second factor is proven (while STAFF_TWO_FACTOR is on)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from security import two_factor


class StaffTwoFactorMiddleware:
    """After django_otp's OTPMiddleware. Every admin URL but the two-factor pages, logout and
    the admin's JavaScript catalogue answers a password-only staff session with a redirect to
    the two-factor page (set up or verify), keeping where they were going in ``next``. The API
    (API keys, no session) and the public pages are not admin URLs and are untouched."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.STAFF_TWO_FACTOR and self._must_verify(request):
            target = reverse("security:two-factor")
            if request.method == "GET":
                target += "?" + urlencode({"next": request.get_full_path()})
            return redirect(target)
        return self.get_response(request)

    @staticmethod
    def _must_verify(request: HttpRequest) -> bool:
        path = request.path_info
        if not path.startswith(reverse("admin:index")):
            return False
        allowed = (
            reverse("security:two-factor"),
            reverse("admin:logout"),
            reverse("admin:login"),
            reverse("admin:jsi18n"),
        )
        if path.startswith(allowed):
            return False
        user = request.user
        return two_factor.is_required(user) and not user.is_verified()
