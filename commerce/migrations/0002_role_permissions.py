"""Support agents and marketing may read commerce data; changing it is the storefronts' job."""

from django.db import migrations

VIEW = ["view_product", "view_restock", "view_cart", "view_cartline", "view_order",
        "view_orderline", "view_stockalert"]
ROLES = {"Support agent": VIEW, "Marketing": VIEW}


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("commerce")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group = Group.objects.filter(name=name).first()
        if group is not None:
            group.permissions.add(
                *Permission.objects.filter(content_type__app_label="commerce", codename__in=codenames)
            )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="commerce", codename__in=VIEW)
        )


class Migration(migrations.Migration):
    dependencies = [("commerce", "0001_initial"), ("customers", "0002_roles")]

    operations = [migrations.RunPython(grant, revoke)]
