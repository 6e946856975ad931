"""The built-in cart reminders link to the cart restore page ({{ cart_url }}) instead of the site.

Only texts that still carry the shipped ``{{ site_url }}`` change; a text staff rewrote keeps
their words. Reversible the same way."""

from django.db import migrations

KEYS = ["abandoned_cart", "abandoned_cart_reminder"]


def swap(old, new):
    def run(apps, schema_editor):
        Template = apps.get_model("channels", "Template")
        for template in Template.objects.filter(key__in=KEYS, text__contains=old):
            template.text = template.text.replace(old, new)
            template.save(update_fields=["text"])

    return run


class Migration(migrations.Migration):
    dependencies = [("journeys", "0002_builtin_journeys"), ("channels", "0002_defaults_and_roles")]

    operations = [
        migrations.RunPython(
            swap("{{ site_url }}", "{{ cart_url|default:site_url }}"),
            swap("{{ cart_url|default:site_url }}", "{{ site_url }}"),
        )
    ]
