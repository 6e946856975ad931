"""Write use-cases of segments: a static list from a CSV of identifiers, and the hashed audience
file ad platforms take for retargeting (an abandoned-cart audience shown ads on social media)."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from django.db import transaction
from django.utils.translation import gettext as _

from campaigns import segments
from campaigns.models import Segment, SegmentMember
from customers.errors import DomainError
from customers.identity import normalize_identifier
from customers.models import Customer, Identity

logger = logging.getLogger(__name__)

# Tried in this order on each row: the first usable identifier names the customer.
IMPORT_COLUMNS = ("id", "user_id", "email", "phone")
MAX_IMPORT_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Rejected:
    line: int
    value: str
    reason: str


@dataclass
class ImportResult:
    added: int = 0
    already: int = 0
    rejected: list[Rejected] = field(default_factory=list)


def import_members(segment: Segment, upload: IO[bytes] | str, *, by: object = None) -> ImportResult:
    """Put the customers a CSV names on a static segment's list, all at once.

    The header names the columns (any of ``id``, ``user_id``, ``email``, ``phone``; other
    columns are ignored). Each row is matched by its first usable identifier, normalised as the
    tracking API does (Persian digits, case, E.164). Rows that match nobody, or whose values
    are not identifiers, are reported with their line and do not stop the rest. Raises
    DomainError for a file that cannot be read at all. ``by`` (who uploaded) goes to the log."""
    if segment.kind != Segment.Kind.STATIC:
        raise DomainError("not_static", _("Only a fixed-list segment takes a list of customers."))
    rows, columns = _read(upload)
    wanted: list[tuple[int, str, str, str]] = []  # line, column, raw, normalised
    result = ImportResult()
    for line, row in rows:
        raw_values = [(column, (row.get(column) or "").strip()) for column in columns]
        given = [(column, raw) for column, raw in raw_values if raw]
        if not given:
            result.rejected.append(Rejected(line, "", _("No identifier on this row.")))
            continue
        for column, raw in given:
            value = _normalise(column, raw)
            if value:
                wanted.append((line, column, raw, value))
                break
        else:
            column, raw = given[0]
            result.rejected.append(
                Rejected(line, raw, _("Not a valid %(column)s.") % {"column": column})
            )
    found = _customers_of(wanted)
    ids: dict[int, int] = {}  # customer id -> first line naming them
    for line, column, raw, value in wanted:
        customer_id = found.get((column, value))
        if customer_id is None:
            result.rejected.append(Rejected(line, raw, _("No customer has this identifier.")))
        else:
            ids.setdefault(customer_id, line)
    with transaction.atomic():
        on_list = set(
            SegmentMember.objects.filter(segment=segment, customer_id__in=ids).values_list(
                "customer_id", flat=True
            )
        )
        SegmentMember.objects.bulk_create(
            [SegmentMember(segment=segment, customer_id=pk) for pk in ids if pk not in on_list],
            ignore_conflicts=True,
        )
    result.already = len(on_list)
    result.added = len(ids) - len(on_list)
    result.rejected.sort(key=lambda rejected: rejected.line)
    logger.info(
        "campaigns.import_members segment=%s by=%s added=%s already=%s rejected=%s",
        segment.pk, by, result.added, result.already, len(result.rejected),
    )  # fmt: skip
    return result


def _read(upload: IO[bytes] | str) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    data = upload if isinstance(upload, str | bytes) else upload.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise DomainError(
            "file_too_big", _("The file is larger than %(mb)s MB.") % {"mb": MAX_IMPORT_BYTES >> 20}
        )
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise DomainError(
                "not_utf8", _("The file is not UTF-8 text (save it as CSV UTF-8).")
            ) from error
    try:
        reader = csv.DictReader(io.StringIO(data))
        header = [name.strip().lower() for name in reader.fieldnames or []]
        reader.fieldnames = header
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as error:
        raise DomainError(
            "not_csv", _("The file is not CSV: %(error)s") % {"error": error}
        ) from error
    columns = [column for column in IMPORT_COLUMNS if column in header]
    if not columns:
        raise DomainError(
            "no_identifier_column",
            _("The first row must name a column of identifiers: %(columns)s.")
            % {"columns": ", ".join(IMPORT_COLUMNS)},
        )
    return rows, columns


def _normalise(column: str, raw: str) -> str | None:
    if column == "id":
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            return None
    return normalize_identifier(column, raw)


def _customers_of(wanted: list[tuple[int, str, str, str]]) -> dict[tuple[str, str], int]:
    """(column, value) -> live customer id, a query per column kind whatever the file's size."""
    by_column: dict[str, set[str]] = {}
    for _line, column, _raw, value in wanted:
        by_column.setdefault(column, set()).add(value)
    found: dict[tuple[str, str], int] = {}
    owners: dict[tuple[str, str], int] = {}
    for column, values in by_column.items():
        if column == "id":
            pairs = Customer.objects.filter(public_id__in=values).values_list("public_id", "pk")
            owners.update({("id", str(public_id)): pk for public_id, pk in pairs})
        else:
            pairs = Identity.objects.filter(kind=column, value__in=values).values_list(
                "value", "customer_id"
            )
            owners.update({(column, value): pk for value, pk in pairs})
    survivors = _survivors(set(owners.values()))
    for key, pk in owners.items():
        found[key] = survivors.get(pk, pk)
    return found


def _survivors(ids: set[int]) -> dict[int, int]:
    """Merged customers' ids -> the live customer they were merged into (chains followed)."""
    merged = dict(
        Customer.objects.filter(pk__in=ids, merged_into__isnull=False).values_list(
            "pk", "merged_into_id"
        )
    )
    while True:
        onward = dict(
            Customer.objects.filter(
                pk__in=set(merged.values()), merged_into__isnull=False
            ).values_list("pk", "merged_into_id")
        )
        if not onward:
            return merged
        merged = {pk: onward.get(target, target) for pk, target in merged.items()}


# --- The hashed audience ----------------------------------------------------------------------

AUDIENCE_HEADER = ["email", "phone"]
EXPORT_CHUNK = 2000


def audience_rows(segment: Segment) -> Iterator[list[str]]:
    """The segment's customers as rows of SHA-256 hex digests of their normalised email and
    phone (lower-case trimmed email; phone in E.164 digits without "+"), the shape Meta, Google
    and TikTok custom-audience uploads take: a header, then one row per address (a customer
    with two emails is two rows). Read in chunks; nothing but hashes leaves the CRM."""
    yield AUDIENCE_HEADER
    ids = segments.members(segment).values("pk")
    addresses = (
        Identity.objects.filter(customer_id__in=ids, kind__in=["email", "phone"], bounced_at=None)
        .order_by("customer_id", "kind", "pk")
        .values_list("kind", "value")
    )
    for kind, value in addresses.iterator(chunk_size=EXPORT_CHUNK):
        digest = _sha256(value.strip().lower() if kind == "email" else value.lstrip("+"))
        yield [digest, ""] if kind == "email" else ["", digest]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
