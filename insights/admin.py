"""The dashboard's place in the admin: ``Insights › Dashboard`` on the index, at
/admin/insights/dashboard/ (URL name ``admin:insights_dashboard``), for staff holding
``insights.view_dashboard``. The model behind it has no table, so there is no list, add, change
or delete; the model admin only routes to insights.dashboard.dashboard_view."""

from __future__ import annotations

from functools import partial

from django.contrib import admin
from django.http import HttpRequest
from django.urls import URLPattern, path

from insights.dashboard import dashboard_view
from insights.models import Dashboard


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.has_perm("insights.view_dashboard")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(partial(dashboard_view, self))
        return [
            path("", view, name="insights_dashboard"),
            # The admin index links each model to its "changelist": here, the dashboard.
            path("", view, name="insights_dashboard_changelist"),
        ]
