"""The Store associate role: an add-on group for support agents who work in a store. It may
read commerce data and place an order from a customer's live cart ("Convert in store" on the
customer page); the agent's other rights come from the Support agent group."""

from django.db import migrations

from customers.roles import grant_in_migration, revoke_in_migration

STORE_ASSOCIATE = "Store associate"
ROLES = {
    STORE_ASSOCIATE: [
        "view_product",
        "view_cart",
        "view_cartline",
        "view_order",
        "view_orderline",
        "add_order",
    ]
}


def create_role(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name=STORE_ASSOCIATE)
    grant_in_migration(apps, "commerce", ROLES)


def remove_role(apps, schema_editor):
    revoke_in_migration(apps, "commerce", ROLES)
    apps.get_model("auth", "Group").objects.filter(name=STORE_ASSOCIATE).delete()


class Migration(migrations.Migration):
    dependencies = [("commerce", "0002_role_permissions")]

    operations = [migrations.RunPython(create_role, remove_role)]
