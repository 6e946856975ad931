"""Load demo data: a few hundred customers with stories across channels, or bulk benchmark rows.

    manage.py seed_demo                      # the sample: stories + 300 customers (idempotent)
    manage.py seed_demo --once               # the same, unless demo data is there (make run)
    manage.py seed_demo --customers 20000 --interactions-per-customer 50 \\
        --hot-customer-interactions 50000    # bulk rows for benchmarks (COPY on PostgreSQL)

Demo staff logins are created only when DEBUG is on or with --with-logins.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from customers import demo


class Command(BaseCommand):
    help = (
        "Load demo customers (Persian, Arabic, Azerbaijani, English) with cross-channel "
        "histories, or bulk benchmark rows with --customers. Idempotent."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--once",
            action="store_true",
            help="Do nothing when the demo sample is already loaded (used by `make run`).",
        )
        parser.add_argument(
            "--with-logins",
            action="store_true",
            help="Create the demo staff logins even when DEBUG is off.",
        )
        parser.add_argument(
            "--sample-size",
            type=int,
            default=demo.SAMPLE_SIZE,
            metavar="N",
            help=f"Customers around the stories in the sample (default {demo.SAMPLE_SIZE}).",
        )
        parser.add_argument(
            "--customers",
            type=int,
            metavar="N",
            help="Bulk mode: make sure N benchmark customers exist (fast, COPY on PostgreSQL).",
        )
        parser.add_argument(
            "--interactions-per-customer",
            type=int,
            default=20,
            metavar="K",
            help="Bulk mode: timeline rows for each new benchmark customer (default 20).",
        )
        parser.add_argument(
            "--hot-customer-interactions",
            type=int,
            default=0,
            metavar="M",
            help="Bulk mode: one more customer with M timeline rows; prints its pk.",
        )
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")

    def handle(self, *args: Any, **options: Any) -> None:
        counts = ("sample_size", "customers", "interactions_per_customer")
        if any((options[name] or 0) < 0 for name in (*counts, "hot_customer_interactions")):
            raise CommandError("Counts cannot be negative.")
        bulk = options["customers"] is not None or options["hot_customer_interactions"] > 0
        if options["once"] and not bulk and demo.sample_loaded():
            self.stdout.write("demo data already loaded")
            return
        # Logins first: the sample's calls and notes are signed by the demo agent.
        self._logins(with_logins=options["with_logins"])
        if bulk:
            self._bulk(options)
        else:
            self._sample(options)

    def _sample(self, options: dict[str, Any]) -> None:
        report = demo.load_sample(size=options["sample_size"], seed=options["seed"])
        if not report.loaded:
            self.stdout.write("demo data already loaded; nothing to add")
            return
        self.stdout.write(self.style.SUCCESS("Loaded the demo sample."))
        for story, pk in report.stories.items():
            self.stdout.write(f"  story: {story}: customer {pk}")
        for label, count in demo.demo_counts().items():
            self.stdout.write(f"  {label}: {count}")

    def _bulk(self, options: dict[str, Any]) -> None:
        customers = options["customers"] or 0
        per_customer = options["interactions_per_customer"]
        report = demo.load_bulk(
            customers=customers,
            per_customer=per_customer,
            hot_interactions=options["hot_customer_interactions"],
            seed=options["seed"],
            progress=self.stdout.write if options["verbosity"] > 1 else None,
        )
        if report.skipped:
            self.stdout.write(f"bulk: {report.skipped} benchmark customers were there already")
        rate = report.rows / report.seconds if report.seconds else 0
        self.stdout.write(
            f"bulk: created {report.customers} customers, {report.identities} identities and "
            f"{report.interactions} interactions in {report.seconds:.1f} s "
            f"({rate:,.0f} rows/s, {report.interactions / max(report.seconds, 1e-9):,.0f} "
            f"interactions/s)"
        )
        if report.hot_customer is not None:
            state = "created" if report.hot_created else "already there"
            self.stdout.write(f"hot customer: pk={report.hot_customer} ({state})")

    def _logins(self, *, with_logins: bool) -> None:
        if not (settings.DEBUG or with_logins):
            self.stdout.write("Demo logins not created (DEBUG is off; pass --with-logins).")
            return
        self.stdout.write("Demo logins:")
        for result in demo.ensure_logins():
            login = result.login
            note = "" if result.created else "  (existed already; password unchanged)"
            self.stdout.write(f"  {login.username} / {login.password}  [{login.role}]{note}")
