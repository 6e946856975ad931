"""Brute-force lockout of staff sign-in (django-axes), and the page a locked-out person sees.

Failures are counted per username and IP address (passwords on the admin login form and
second-factor codes alike, see ``security.two_factor``); AXES_FAILURE_LIMIT of them lock that
pair out for AXES_COOLOFF_TIME, during which even the right password is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_ip_address, get_cool_off
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class LockoutBackend(AxesStandaloneBackend):
    """Axes' check before the password backend. A call without a request (the test client's
    ``login()``, a script) has no client to lock out and is passed on to the next backend."""

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)


def is_locked(request: HttpRequest, username: str) -> bool:
    """Whether ``username`` from this request's IP address is locked out right now."""
    return AxesProxyHandler.is_locked(request, {"username": username})


def record_failure(request: HttpRequest, username: str) -> bool:
    """Count one failed sign-in step (e.g. a wrong second-factor code) like a wrong password;
    True when it locked the pair out."""
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
    return bool(getattr(request, "axes_locked_out", False))


def locked_until(request: HttpRequest, username: str) -> datetime:
    """When the lockout of ``username`` from this request's IP address ends."""
    cool_off = get_cool_off(request)
    last = (
        AccessAttempt.objects.filter(username=username, ip_address=get_client_ip_address(request))
        .order_by("-attempt_time")
        .values_list("attempt_time", flat=True)
        .first()
    )
    return (last or timezone.now()) + cool_off


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: a translated page saying when to try again (429, Retry-After)."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    until = locked_until(request, username)
    seconds = max(int((until - timezone.now()).total_seconds()), 1)
    context = {
        **admin.site.each_context(request),
        "title": _("Too many failed sign-in attempts"),
        "locked_until": until,
        "minutes": (seconds + 59) // 60,
    }
    response = TemplateResponse(request, "security/locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response.render()
