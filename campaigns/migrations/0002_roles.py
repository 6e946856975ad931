"""Marketing builds segments; support agents see none of campaigns (issue 6, permissions)."""

from django.db import migrations

from customers.roles import grant_in_migration, revoke_in_migration

ROLES = {
    "Marketing": [
        f"{action}_{model}"
        for model in ("segment", "segmentmember")
        for action in ("view", "add", "change", "delete")
    ],
}


def forwards(apps, schema_editor):
    grant_in_migration(apps, "campaigns", ROLES)


def backwards(apps, schema_editor):
    revoke_in_migration(apps, "campaigns", ROLES)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0001_initial"), ("customers", "0002_roles")]

    operations = [migrations.RunPython(forwards, backwards)]
