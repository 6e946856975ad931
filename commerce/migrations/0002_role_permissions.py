"""Support agents and marketing may read commerce data; changing it is the storefronts' job."""

from django.db import migrations

from customers.roles import grant_in_migration, revoke_in_migration

VIEW = ["view_product", "view_restock", "view_cart", "view_cartline", "view_order",
        "view_orderline", "view_stockalert"]
ROLES = {"Support agent": VIEW, "Marketing": VIEW}


def grant(apps, schema_editor):
    grant_in_migration(apps, "commerce", ROLES)


def revoke(apps, schema_editor):
    revoke_in_migration(apps, "commerce", ROLES)


class Migration(migrations.Migration):
    dependencies = [("commerce", "0001_initial"), ("customers", "0002_roles")]

    operations = [migrations.RunPython(grant, revoke)]
