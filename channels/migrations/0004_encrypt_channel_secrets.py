"""Channel secrets encrypted at rest (security/crypto.py): the webhook secret column widens for
ciphertext, every existing secret setting and webhook secret is encrypted with the first key of
CRM_ENCRYPTION_KEYS, and the fields encrypt whatever is written from now on. Reversible: going
back decrypts them (the keys must still be configured)."""

from django.db import migrations, models

import channels.models


def encrypt_secrets(apps, schema_editor):
    from security import crypto

    Channel = apps.get_model("channels", "Channel")
    for pk, settings, secret in Channel.objects.values_list("pk", "settings", "webhook_secret"):
        # At this point both fields are plain: these values are written as computed here.
        Channel.objects.filter(pk=pk).update(
            settings=channels.models.seal_settings(settings or {}),
            webhook_secret=crypto.seal(secret or ""),
        )


def decrypt_secrets(apps, schema_editor):
    from security import crypto

    Channel = apps.get_model("channels", "Channel")
    for pk, settings, secret in Channel.objects.values_list("pk", "settings", "webhook_secret"):
        Channel.objects.filter(pk=pk).update(
            settings=channels.models.open_settings(settings or {}),
            webhook_secret=crypto.reveal(secret or ""),
        )


class Migration(migrations.Migration):
    dependencies = [
        ("channels", "0003_lean_indexes"),
    ]

    operations = [
        # Wider first (a 200-character secret is ~370 characters encrypted), narrower last.
        migrations.AlterField(
            model_name="channel",
            name="webhook_secret",
            field=models.CharField(
                blank=True,
                help_text="Shared secret the provider signs status and inbound webhooks with.",
                max_length=512,
                verbose_name="webhook secret",
            ),
        ),
        migrations.RunPython(encrypt_secrets, decrypt_secrets, elidable=False),
        migrations.AlterField(
            model_name="channel",
            name="settings",
            field=channels.models.SecretSettingsField(
                blank=True,
                default=dict,
                help_text="Backend settings as JSON; secret values are never shown again.",
                verbose_name="settings",
            ),
        ),
        migrations.AlterField(
            model_name="channel",
            name="webhook_secret",
            field=channels.models.SecretCharField(
                blank=True,
                help_text="Shared secret the provider signs status and inbound webhooks with.",
                max_length=512,
                verbose_name="webhook secret",
            ),
        ),
    ]
