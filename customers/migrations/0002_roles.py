"""Create the three staff roles. Later apps' migrations add their own permissions to them."""

from django.db import migrations

SUPPORT_AGENT = "Support agent"
MARKETING = "Marketing"
ADMINISTRATOR = "Administrator"

ROLES = {
    SUPPORT_AGENT: [
        "view_customer",
        "view_identity",
        "view_interaction",
        "add_interaction",
        "view_consent",
        "view_source",
        "view_mergesuggestion",
        "change_mergesuggestion",
        "merge_customers",
        "view_mergerecord",
        "undo_mergerecord",
    ],
    MARKETING: [
        "view_customer",
        "view_identity",
        "view_interaction",
        "view_consent",
        "view_source",
    ],
}


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; roles need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="customers", codename__in=codenames)
        )
    admin, _ = Group.objects.get_or_create(name=ADMINISTRATOR)
    admin.permissions.add(*Permission.objects.all())


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=[SUPPORT_AGENT, MARKETING, ADMINISTRATOR]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
