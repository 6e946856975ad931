"""Marketing runs campaigns; approving a large one is a separate permission, given to no role by
default (an administrator grants it to the people who may)."""

from django.db import migrations

from customers.roles import grant_in_migration, revoke_in_migration

ROLES = {
    "Marketing": [
        "view_campaign", "add_campaign", "change_campaign", "delete_campaign",
        "view_campaignchange",
    ],
}  # fmt: skip


def forwards(apps, schema_editor):
    grant_in_migration(apps, "campaigns", ROLES)


def backwards(apps, schema_editor):
    revoke_in_migration(apps, "campaigns", ROLES)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0003_campaign"), ("customers", "0002_roles")]

    operations = [migrations.RunPython(forwards, backwards)]
