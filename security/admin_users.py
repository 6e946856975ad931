"""Staff accounts in the admin: Django's user admin plus whether each has two factors set up
and an action to reset another user's second factor (a lost phone). Registered from
``SecurityConfig.ready()``, after the admin has discovered Django's own user admin."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from security import two_factor


class StaffUserAdmin(UserAdmin):
    list_display = (*UserAdmin.list_display, "two_factor")
    actions = ["reset_two_factor"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        confirmed = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
        return super().get_queryset(request).annotate(has_two_factor=Exists(confirmed))

    @admin.display(boolean=True, description=_("two factors"), ordering="has_two_factor")
    def two_factor(self, user) -> bool:
        return user.has_two_factor

    @admin.action(permissions=["change"], description=_("Reset two-factor authentication"))
    def reset_two_factor(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for user in queryset:
            two_factor.reset(user, request=request)
            done += 1
        self.message_user(
            request,
            ngettext(
                "Two-factor authentication reset for %(count)d user: they set it up again at "
                "their next sign-in.",
                "Two-factor authentication reset for %(count)d users: they set it up again at "
                "their next sign-in.",
                done,
            )
            % {"count": done},
            messages.SUCCESS,
        )


def register(site: admin.AdminSite = admin.site) -> None:
    """Replace the user admin Django registered with ``StaffUserAdmin``, and take out
    django-otp's device pages, which would let an administrator read (and so copy) another
    person's secret or backup codes; the reset action is the way to handle a lost phone.
    Idempotent."""
    for device_model in (TOTPDevice, StaticDevice):
        if site.is_registered(device_model):
            site.unregister(device_model)
    user_model = get_user_model()
    if site.is_registered(user_model):
        if isinstance(site.get_model_admin(user_model), StaffUserAdmin):
            return
        site.unregister(user_model)
    site.register(user_model, StaffUserAdmin)
