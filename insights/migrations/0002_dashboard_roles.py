"""Marketing reads the insights dashboard (managers sit in that role); Support agents do not —
an administrator grants it to a support lead by hand. Administrator gets it on post_migrate."""

from django.db import migrations

from customers.roles import grant_in_migration, revoke_in_migration

ROLES = {"Marketing": ["view_dashboard"]}


def forwards(apps, schema_editor):
    grant_in_migration(apps, "insights", ROLES)


def backwards(apps, schema_editor):
    revoke_in_migration(apps, "insights", ROLES)


class Migration(migrations.Migration):
    dependencies = [("insights", "0001_dashboard_permission"), ("customers", "0002_roles")]

    operations = [migrations.RunPython(forwards, backwards)]
