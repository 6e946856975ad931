"""The two-factor pages, under /admin/two-factor/ (config/urls.py)."""

from django.contrib import admin
from django.urls import path

from security import views

app_name = "security"

urlpatterns = [
    path("", admin.site.admin_view(views.index), name="two-factor"),
    path("setup/", admin.site.admin_view(views.setup), name="two-factor-setup"),
    path("verify/", admin.site.admin_view(views.verify), name="two-factor-verify"),
    path(
        "backup-codes/", admin.site.admin_view(views.backup_codes), name="two-factor-backup-codes"
    ),
    path("reset/", admin.site.admin_view(views.reset), name="two-factor-reset"),
]
