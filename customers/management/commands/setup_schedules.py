from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from config.schedules import DEFAULT_SCHEDULES


class Command(BaseCommand):
    help = "Create the product's periodic tasks once; never overwrites what staff changed."

    def handle(self, *args: object, **options: object) -> None:
        with transaction.atomic():
            for spec in DEFAULT_SCHEDULES:
                interval, _ = IntervalSchedule.objects.get_or_create(
                    every=spec["every_seconds"], period=IntervalSchedule.SECONDS
                )
                _, created = PeriodicTask.objects.get_or_create(
                    name=spec["name"],
                    defaults={
                        "task": spec["task"],
                        "interval": interval,
                        "description": spec["description"],
                        "expire_seconds": spec["expires_seconds"],
                    },
                )
                state = "created" if created else "kept as configured"
                self.stdout.write(f"schedule {spec['name']!r} ({spec['task']}): {state}")
