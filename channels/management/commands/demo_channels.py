"""Console channels for a demo install, so an agent's message from the customer page goes
somewhere visible (the worker's log) without any provider account."""

from django.core.management.base import BaseCommand

from channels.models import Channel

CONSOLE = "channels.backends.console.ConsoleBackend"
DEMO = [
    ("Email (console)", Channel.Kind.EMAIL, "shop@example.org"),
    ("SMS (console)", Channel.Kind.SMS, "10004346"),
]


class Command(BaseCommand):
    help = "Create console email and SMS channels when no channel exists yet (demo installs)."

    def handle(self, *args: object, **options: object) -> None:
        if Channel.objects.exists():
            self.stdout.write("Channels exist already; nothing to do.")
            return
        for name, kind, sender in DEMO:
            Channel.objects.create(name=name, kind=kind, backend=CONSOLE, sender=sender)
        self.stdout.write(
            "Created console email and SMS channels: messages print in the worker's log."
        )
