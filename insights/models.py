"""The insights app keeps no data of its own: it reads the other apps' rows (selectors.py)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Dashboard(models.Model):
    """Not a table: the holder of the dashboard's permission and its entry in the admin index."""

    class Meta:
        managed = False
        db_table = "insights_dashboard"  # never created (managed = False)
        default_permissions = ()
        permissions = [("view_dashboard", _("Can view the insights dashboard"))]
        verbose_name = _("dashboard")
        verbose_name_plural = _("dashboard")

    def __str__(self) -> str:
        return str(_("dashboard"))
