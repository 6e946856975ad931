from django.core.management.base import BaseCommand, CommandError

from customers import partitions


class Command(BaseCommand):
    help = (
        "Monthly partitions of the interaction table (PostgreSQL): create the coming months, "
        "move DEFAULT's rows into months of their own, detach old months for archive, list."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--ahead",
            type=int,
            metavar="N",
            help=f"Create this month's and the next N months' partitions "
            f"(the daily task uses {partitions.DEFAULT_AHEAD}).",
        )
        parser.add_argument(
            "--absorb-default",
            action="store_true",
            help="Create a partition for every month the DEFAULT partition holds rows of.",
        )
        parser.add_argument(
            "--detach-before",
            metavar="YYYY-MM",
            help="Detach every month before this one; they stay as plain tables to archive.",
        )
        parser.add_argument(
            "--forget-keys",
            metavar="TABLE",
            help="Release the message ids of a detached table (if a detach stopped midway).",
        )
        parser.add_argument("--list", action="store_true", help="List the partitions.")

    def handle(self, *args: object, **options: object) -> None:
        if not partitions.supported():
            self.stdout.write(f"{partitions.unsupported_reason()} Nothing to do.")
            return
        ahead, before = options["ahead"], options["detach_before"]
        if ahead is None and before is None and not options["absorb_default"]:
            if not options["forget_keys"]:
                options["list"] = True
        try:
            if ahead is not None:
                created = partitions.ensure_ahead(int(ahead))  # type: ignore[call-overload]
                self._say("created", created, "every month up to then has its partition")
            if options["absorb_default"]:
                created = partitions.absorb_default()
                self._say("created", created, "the DEFAULT partition holds no rows")
            if before is not None:
                detached = partitions.detach_before(partitions.parse_month(str(before)))
                self._say("detached", detached, f"no month before {before} is attached")
                if detached:
                    self.stdout.write(
                        "Archive each with pg_dump --table=<name>, then DROP TABLE <name>."
                    )
            if options["forget_keys"]:
                count = partitions.forget_keys(str(options["forget_keys"]))
                self.stdout.write(f"released the message ids of {count} rows")
        except ValueError as error:
            raise CommandError(str(error)) from error
        if options["list"]:
            for part in partitions.partitions():
                self.stdout.write(
                    f"{part.label:<8} {part.name:<40} ~{part.rows:>12,} rows "
                    f"{part.bytes / 1_048_576:>10,.1f} MiB"
                )

    def _say(self, verb: str, names: list[str], none: str) -> None:
        if not names:
            self.stdout.write(f"nothing {verb}: {none}")
        for name in names:
            self.stdout.write(f"{verb} {name}")
