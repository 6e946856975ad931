"""Exporting a segment (its rules, its hashed audience) is a permission of its own, audited;
Marketing holds it, Support agents do not (data rights: exports are permission-gated)."""

from django.db import migrations

from customers.roles import grant_in_migration, revoke_in_migration

ROLES = {"Marketing": ["export_segment"]}


def forwards(apps, schema_editor):
    grant_in_migration(apps, "campaigns", ROLES)


def backwards(apps, schema_editor):
    revoke_in_migration(apps, "campaigns", ROLES)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0009_lean_indexes"), ("customers", "0002_roles")]

    operations = [
        migrations.AlterModelOptions(
            name="segment",
            options={
                "ordering": ["name"],
                "permissions": [
                    ("export_segment", "Can export a segment and download its audience")
                ],
                "verbose_name": "segment",
                "verbose_name_plural": "segments",
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
