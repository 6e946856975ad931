"""Proving ownership of an email or phone with a one-time code (docs/api.md, "Verifications").

``request_code`` sends a 6-digit code to that one address only; ``confirm_code`` checks it and
then marks the identity verified: attached to the customer when nobody holds it; merged with
the profile that holds it verified (a trusted link, the oldest survives); taken over from a
profile that holds it unverified (a merge suggestion, never a merge: docs/decisions.md,
"Identity verification"). Only an HMAC of the code is stored; the outbox copy of the message
is blanked once the code is used or dead.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets
from typing import TYPE_CHECKING

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from channels import services as outbox
from channels.models import Message
from customers import services as customers
from customers.errors import DomainError
from customers.identity import normalize_identifier, to_latin_digits
from customers.models import ChannelKind, Customer, Identity, Interaction
from customers.services.lookup import _user_ids
from security import audit
from security.models import VerificationCode

if TYPE_CHECKING:
    from customers.models import Source

logger = logging.getLogger(__name__)

CODE_DIGITS = 6
LIFETIME = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 5
# (window, most codes in it), for one address and for one requesting customer alike.
LIMITS = ((dt.timedelta(minutes=10), 3), (dt.timedelta(days=1), 10))
# Expired codes are kept this long (support can see a request happened), then swept.
KEEP_EXPIRED = dt.timedelta(days=1)
CHANNEL_OF = {"email": "email", "phone": "sms"}
REDACTED = "••••••"


class InvalidAddress(DomainError):
    """Not an email or phone we can parse (400)."""

    def __init__(self) -> None:
        super().__init__(
            "invalid_address", _("Give a valid email address or phone number."), status=400
        )


class RateLimited(DomainError):
    """Too many codes for this address or customer; ``retry_after`` in seconds (429)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "rate_limited",
            _("Too many codes were asked for; try again in %(seconds)s seconds.")
            % {"seconds": retry_after},
            status=429,
        )
        self.retry_after = retry_after


class Unreachable(DomainError):
    """No channel, or the address bounced or opted out: no code was made (422)."""

    def __init__(self) -> None:
        super().__init__(
            "address_unreachable", _("No message can be sent to this address now."), status=422
        )


class CodeInvalid(DomainError):
    """Wrong code, or none was asked for; the wrong try counts (400)."""

    def __init__(self) -> None:
        super().__init__("code_invalid", _("The code is wrong."), status=400)


class CodeExpired(DomainError):
    """The newest code is older than LIFETIME (400)."""

    def __init__(self) -> None:
        super().__init__("code_expired", _("The code has expired; ask for a new one."), status=400)


class TooManyAttempts(DomainError):
    """MAX_ATTEMPTS wrong codes killed it (400)."""

    def __init__(self) -> None:
        super().__init__(
            "too_many_attempts", _("Too many wrong codes; ask for a new one."), status=400
        )


class IdentityConflict(DomainError):
    """A verified holder with another user_id: never merged (409)."""

    def __init__(self) -> None:
        super().__init__(
            "identity_conflict",
            _("This address belongs to another account; two accounts are never merged."),
            status=409,
        )


def _digest(kind: str, value: str, code: str) -> str:
    # Keyed with SECRET_KEY: a copy of the table alone cannot be brute-forced (10^6 codes).
    mac = salted_hmac("channels.verification", f"{kind}:{value}:{code}", algorithm="sha256")
    return mac.hexdigest()


def _normalize(kind: str, raw_value: str) -> str:
    if kind not in CHANNEL_OF:
        raise InvalidAddress()
    value = normalize_identifier(kind, raw_value)
    if value is None:
        raise InvalidAddress()
    return value


def _retry_after(codes: Q, now: dt.datetime) -> int | None:
    """Seconds until one more code is allowed under LIMITS, or None when it is now."""
    wait = 0
    for window, limit in LIMITS:
        newest = list(
            VerificationCode.objects.filter(codes, created_at__gt=now - window)
            .order_by("-created_at")
            .values_list("created_at", flat=True)[:limit]
        )
        if len(newest) >= limit:
            # The limit-th newest code leaving the window makes room for one more.
            wait = max(wait, int((newest[limit - 1] + window - now).total_seconds()) + 1)
    return wait or None


def _lock_address(kind: str, value: str) -> None:
    """Hold the address until commit, held by someone or not (SQLite writes one at a time)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"verification:{kind}:{value}"],
            )


def request_code(
    customer: Customer,
    kind: str,
    raw_value: str,
    *,
    source: Source | None = None,
    requested_by: str = "",
) -> VerificationCode:
    """Make a code for ``kind``/``raw_value`` and send it to that address only (transactional,
    in the customer's language). Limits: LIMITS per address and per customer, counted in the
    database so they hold across processes. Raises InvalidAddress, RateLimited, Unreachable."""
    value = _normalize(kind, raw_value)
    now = timezone.now()
    with transaction.atomic():
        # The customer's row and the address serialise concurrent requests, so the counts
        # below cannot both pass with the last slot.
        customer = customers.live(customer, refresh=True)
        list(Customer.objects.select_for_update(no_key=True).filter(pk=customer.pk))
        _lock_address(kind, value)
        owner = (
            Identity.objects.select_for_update(no_key=True)
            .select_related("customer")
            .filter(kind=kind, value=value)
            .first()
        )
        for codes in (Q(kind=kind, value=value), Q(customer=customer)):
            wait = _retry_after(codes, now)
            if wait is not None:
                raise RateLimited(wait)
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        row = VerificationCode.objects.create(
            customer=customer,
            kind=kind,
            value=value,
            code_hash=_digest(kind, value, code),
            created_at=now,
            expires_at=now + LIFETIME,
            source=source,
            requested_by=requested_by[:150],
        )
        # Held by someone: the message is theirs (their timeline shows a code went out, their
        # bounce and opt-out apply); it never goes to any other address of anyone.
        recipient = customers.live(owner.customer) if owner is not None else customer
        language = customer.locale or recipient.locale or None
        with translation.override(language or translation.get_language()):
            subject = _("Your verification code")
            text = _(
                "Your verification code is %(code)s. It expires in %(minutes)s minutes. "
                "If you did not ask for it, ignore this message."
            ) % {"code": code, "minutes": int(LIFETIME.total_seconds() // 60)}
        message = outbox.send(
            recipient,
            purpose=Message.Purpose.TRANSACTIONAL,
            intent="verification",
            idempotency_key=f"verification:{row.pk}",
            channels=(CHANNEL_OF[kind],),
            # The subject (never the code) is what the timeline row shows, for SMS too.
            content=outbox.Content(text=text, subject=subject),
            to=owner if owner is not None else value,
        )
        if message.status == Message.Status.SUPPRESSED:
            logger.info("channels.verification_unreachable code=%s: %s", row.pk, message.reason)
            raise Unreachable()
        row.message = message
        row.save(update_fields=["message"])
    return row


def confirm_code(
    customer: Customer,
    kind: str,
    raw_value: str,
    code: str,
    *,
    source: Source | None = None,
    requested_by: str = "",
) -> Customer:
    """Check the customer's newest code for this address (constant time; each wrong one
    counts, MAX_ATTEMPTS kill it) and mark the identity verified (see ``_verified``). Returns
    the surviving customer. Raises InvalidAddress, CodeInvalid, CodeExpired, TooManyAttempts,
    IdentityConflict (a verified holder with a different user id)."""
    value = _normalize(kind, raw_value)
    typed = to_latin_digits(str(code)).strip()
    now = timezone.now()
    # A wrong code must count even though the caller gets an error: the count commits first.
    with transaction.atomic():
        customer = customers.live(customer, refresh=True)
        # Locks go customers (in pk order, as merges take them) before codes and identities,
        # so a confirm, a request and a merge never wait on each other in a circle.
        holder_id = (
            Identity.objects.filter(kind=kind, value=value)
            .values_list("customer__merged_into_id", "customer_id")
            .first()
        )
        ids = {customer.pk, *((holder_id[0] or holder_id[1],) if holder_id else ())}
        list(Customer.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk"))
        row = (
            VerificationCode.objects.select_for_update()
            .filter(customer=customer, kind=kind, value=value, consumed_at__isnull=True)
            .order_by("-created_at", "-pk")
            .first()
        )
        if row is None:
            error: DomainError = CodeInvalid()
        elif row.attempts >= MAX_ATTEMPTS:
            error = TooManyAttempts()
        elif row.expires_at <= now:
            error = CodeExpired()
        elif not hmac.compare_digest(row.code_hash, _digest(kind, value, typed)):
            row.attempts = F("attempts") + 1
            row.save(update_fields=["attempts"])
            row.refresh_from_db(fields=["attempts"])
            if row.attempts >= MAX_ATTEMPTS:
                _redact(row)
                error = TooManyAttempts()
            else:
                error = CodeInvalid()
        else:
            row.consumed_at = now
            row.save(update_fields=["consumed_at"])
            _redact(row)
            try:
                with transaction.atomic():
                    return _verified(customer, kind, value, source=source, by=requested_by)
            except IdentityConflict as conflict:
                error = conflict  # the code is used up: the answer would not change
    raise error


def _verified(
    customer: Customer, kind: str, value: str, *, source: Source | None, by: str
) -> Customer:
    """Mark (kind, value) verified for ``customer``: attach it when free; when another profile
    holds it verified, merge the two (oldest survives); when it holds it unverified, take it
    over and suggest a merge. Raises IdentityConflict (verified holder, other user_id)."""
    identity = (
        Identity.objects.select_for_update(no_key=True).filter(kind=kind, value=value).first()
    )
    merged_with: Customer | None = None
    taken_from: Customer | None = None
    if identity is None:
        try:
            with transaction.atomic():
                identity = Identity.objects.create(
                    customer=customer, kind=kind, value=value, verified=True, source=source
                )
        except IntegrityError:
            # Attached by someone else a moment ago: decide as if it had been there.
            return _verified(customer, kind, value, source=source, by=by)
        customers.refresh_search_text([customer.pk])
        survivor = customer
    else:
        holder = customers.live(identity.customer, refresh=True)
        survivor = customer
        if holder.pk != customer.pk and identity.verified:
            # Both proved the address: one person, a trusted link (DESIGN.md, "Trust").
            if len(set(_user_ids([customer.pk, holder.pk]).values())) > 1:
                raise IdentityConflict()
            survivor, duplicate = customers.oldest_first([customer, holder])
            customers.merge(survivor=survivor, duplicate=duplicate, reason=f"verified {kind}")
            merged_with = duplicate
            survivor = Customer.objects.get(pk=survivor.pk)
        elif holder.pk != customer.pk:
            # The holder only typed the address, never proved it; this customer just did. A
            # merge would hand the holder's devices the owner's history (pre-claiming an
            # address), so the address moves here and an agent may still join the two.
            Identity.objects.filter(pk=identity.pk).update(customer=customer)
            customers.refresh_search_text([customer.pk, holder.pk])
            if len(set(_user_ids([customer.pk, holder.pk]).values())) <= 1:
                customers.suggest_merge(customer, holder, kind=kind, value=value)
            taken_from = holder
        Identity.objects.filter(pk=identity.pk).update(verified=True)
    audit.record(
        audit.Action.IDENTITY_VERIFIED,
        actor_label=by or "system",
        target=survivor,
        kind=kind,
        value=value,
        merged=str(merged_with.public_id) if merged_with is not None else None,
        taken_from=str(taken_from.public_id) if taken_from is not None else None,
    )
    customers.record_interaction(
        customer=survivor,
        seen=False,
        type=Interaction.Type.SYSTEM,
        channel=ChannelKind.EMAIL if kind == "email" else ChannelKind.SMS,
        name="Identity Verified",
        summary=f"{kind} verified: {value}"[:500],
        direction=Interaction.Direction.INTERNAL,
        properties={"kind": kind, "value": value, "merged": merged_with is not None},
        source=source,
    )
    return survivor


def _redact(row: VerificationCode) -> None:
    """Blank the code in the outbox copy of its message (it stays readable until used)."""
    if row.message_id is not None:
        Message.objects.filter(pk=row.message_id).update(text=REDACTED, html="")


def sweep(*, now: dt.datetime | None = None) -> int:
    """Blank the messages of expired codes and delete codes expired over KEEP_EXPIRED ago.
    Returns how many codes were deleted; idempotent."""
    now = now or timezone.now()
    with transaction.atomic():
        Message.objects.filter(
            pk__in=VerificationCode.objects.filter(
                expires_at__lte=now, message__isnull=False
            ).values("message_id")
        ).exclude(text=REDACTED).update(text=REDACTED, html="")
        deleted, _rows = VerificationCode.objects.filter(
            expires_at__lte=now - KEEP_EXPIRED
        ).delete()
    return deleted
