"""The frequency caps a new install starts with, and what each staff role may do here:
support agents see messages (and send through the customer page); marketing also manages
templates, channels' windows, caps and holidays."""

import datetime

from django.db import migrations

from customers.roles import grant_in_migration, revoke_in_migration

CAPS = [
    ("Two marketing messages a day", 2, datetime.timedelta(days=1), "skip"),
    ("Five marketing messages a week", 5, datetime.timedelta(days=7), "defer"),
]
ROLES = {
    "Support agent": ["view_channel", "view_template", "view_message", "add_message"],
    "Marketing": [
        "view_channel",
        "view_message",
        "add_template",
        "change_template",
        "delete_template",
        "view_template",
        "add_frequencycap",
        "change_frequencycap",
        "view_frequencycap",
        "add_holiday",
        "change_holiday",
        "delete_holiday",
        "view_holiday",
    ],
}


def forwards(apps, schema_editor):
    FrequencyCap = apps.get_model("channels", "FrequencyCap")
    for name, limit, period, action in CAPS:
        FrequencyCap.objects.get_or_create(
            name=name, defaults={"limit": limit, "period": period, "action": action}
        )
    grant_in_migration(apps, "channels", ROLES)


def backwards(apps, schema_editor):
    FrequencyCap = apps.get_model("channels", "FrequencyCap")
    FrequencyCap.objects.filter(name__in=[name for name, *_ in CAPS]).delete()
    revoke_in_migration(apps, "channels", ROLES)


class Migration(migrations.Migration):
    dependencies = [("channels", "0001_initial"), ("customers", "0002_roles")]

    operations = [migrations.RunPython(forwards, backwards)]
