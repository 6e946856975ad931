from django.conf import settings
from django.core.management.base import BaseCommand


def _redact(url: str) -> str:
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rsplit('@', 1)[-1]}"


class Command(BaseCommand):
    help = "Say which database, broker and cache this configuration uses (and the demo logins)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--logins", action="store_true", help="Also print the admin URL.")

    def handle(self, *args: object, **options: object) -> None:
        db = settings.DATABASES["default"]
        engine = db["ENGINE"].rsplit(".", 1)[-1]
        if engine == "sqlite3":
            database = f"SQLite file {db['NAME']} (embedded default; DATABASE_URL for PostgreSQL)"
        else:
            database = f"{engine} {db.get('HOST') or 'socket'}:{db.get('PORT') or ''}/{db['NAME']}"
        broker = settings.CELERY_BROKER_URL
        if broker.startswith("filesystem://"):
            broker = f"Kombu filesystem:// in {settings.BROKER_DIR} (embedded default)"
        cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
        self.stdout.write(f"database: {database}")
        self.stdout.write(f"broker:   {_redact(broker)}")
        location = _redact(str(settings.CACHES["default"]["LOCATION"]))
        self.stdout.write(f"cache:    {cache} {location}")
        if options["logins"]:
            from customers.demo import DEMO_LOGINS

            self.stdout.write("")
            self.stdout.write(f"Admin: {settings.SITE_URL.rstrip('/')}/admin/")
            for role, username, password in DEMO_LOGINS:
                self.stdout.write(f"  {role:<15} {username} / {password}")
            if settings.DEMO_STOREFRONT:
                shop = f"{settings.SITE_URL.rstrip('/')}/demo/shop/"
                self.stdout.write(f"Demo shop (tracks from the browser): {shop}")
            self.stdout.write("Starting web (gunicorn), Celery worker and beat; Ctrl-C stops.")
