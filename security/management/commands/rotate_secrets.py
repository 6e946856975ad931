"""Re-encrypt every stored secret with the first key of CRM_ENCRYPTION_KEYS.

Rotation: put the new key first in CRM_ENCRYPTION_KEYS (keep the old one after it), restart,
run this command, then drop the old key. Safe to run again: values already under the first key
stay as they are, plaintext ones left from before encryption get encrypted.

Which columns hold secrets is not listed here (security imports no app of ours): every model
field with a ``rotated(value, counts)`` method is one (channels.models.SecretSettingsField and
SecretCharField).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from security import crypto


def secret_fields() -> list[tuple[Any, list[Any]]]:
    """(model, its secret fields) for every model that has any."""
    found = []
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if callable(getattr(f, "rotated", None))]
        if fields:
            found.append((model, fields))
    return found


class Command(BaseCommand):
    help = "Re-encrypt stored secrets (channel settings, webhook secrets) with the first key."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would change; write nothing."
        )

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        if not crypto.configured_keys():
            raise CommandError(f"CRM_ENCRYPTION_KEYS is not set. {crypto.GENERATE_HINT}")
        counts: Counter[str] = Counter()
        failed: list[str] = []
        rows = 0
        with transaction.atomic():
            for model, fields in secret_fields():
                names = [field.attname for field in fields]
                # Locked: an admin saving a row meanwhile waits instead of being overwritten.
                for row in model._default_manager.select_for_update().order_by("pk"):
                    try:
                        values = {
                            field.attname: field.rotated(getattr(row, field.attname), counts)
                            for field in fields
                        }
                    except crypto.DecryptionError:
                        failed.append(f"{model._meta.label} {row.pk}")
                        continue
                    if any(values[name] != getattr(row, name) for name in names):
                        rows += 1
                        if not dry_run:
                            model._default_manager.filter(pk=row.pk).update(**values)
        done = "would be" if dry_run else "were"
        self.stdout.write(
            f"{counts['rotated']} secret(s) {done} re-encrypted with the first key, "
            f"{counts['encrypted']} plaintext secret(s) {done} encrypted, "
            f"{counts['current']} already current ({rows} row(s) {done} updated)."
        )
        if failed:
            raise CommandError(
                "No configured key decrypts the secrets of "
                + ", ".join(failed)
                + ": put the key they were encrypted with back in CRM_ENCRYPTION_KEYS "
                "(the others were rotated)."
            )
