from django.core.management.base import BaseCommand, CommandError

from customers import apikeys
from customers.errors import DomainError
from customers.models import Source


class Command(BaseCommand):
    help = "Create (or reuse) a source and print a new API key for it; the key is shown once."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("name")
        parser.add_argument("--kind", choices=Source.Kind.values, default=Source.Kind.WEB)
        parser.add_argument(
            "--scopes",
            default=",".join(apikeys.DEFAULT_SCOPES),
            help="Comma-separated: track,read,write,privacy (default: all but privacy).",
        )
        parser.add_argument("--trusted", action="store_true", help="Trust its emails and phones.")

    def handle(self, *args: object, **options: object) -> None:
        scopes = [s.strip() for s in str(options["scopes"]).split(",") if s.strip()]
        source, created = Source.objects.get_or_create(
            name=options["name"], defaults={"kind": options["kind"], "trusted": options["trusted"]}
        )
        try:
            key, raw = apikeys.create_key(source, scopes=scopes, name="create_source")
        except DomainError as error:
            raise CommandError(error.message) from error
        verb = "created" if created else "exists"
        scopes_text = ",".join(key.scopes)
        self.stdout.write(f"source {source.name!r} ({source.kind}) {verb}; scopes {scopes_text}")
        self.stdout.write(raw)
