"""Support cases: a customer's question followed across channels, from the first inbound
message or call to its resolution and the customer's satisfaction score (docs/cases.md).

Services own their transaction and lock the customer's row (open or join) or the case's row
(every other change), so two messages arriving at once join one case instead of opening two.
``customers`` imports no other app of ours: the satisfaction request goes out through the sender
the channels app registers here (``register_csat_sender``), as the customer page's panels do.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from customers import services
from customers.errors import DomainError
from customers.identity import to_latin_digits
from customers.models import Case, ChannelKind, Customer, Interaction

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

# What a customer does that opens a case, or joins their open one: a message, a call, a chat.
# Page views, events and orders never do; a store visit or a note only joins an open case.
OPENING_TYPES = frozenset({Interaction.Type.MESSAGE, Interaction.Type.CALL, Interaction.Type.CHAT})
# Logged by an agent who was there (a call taken, a chat answered): the customer had a person.
LIVE_TYPES = frozenset({Interaction.Type.CALL, Interaction.Type.CHAT})
SUBJECT_LENGTH = 80
# A reply with a score answers the satisfaction request for this long after it was sent.
CSAT_REPLY_WINDOW = dt.timedelta(days=7)
CSAT_EVENT = "Satisfaction Rated"
CSAT_COMMENT_LENGTH = 1000
# Moves an agent may make by hand; "resolved" is final (a customer writing again opens a new
# case), and resolving goes through ``resolve`` (which may ask for satisfaction).
ALLOWED_MOVES: dict[str, frozenset[str]] = {
    Case.Status.OPEN: frozenset({Case.Status.WAITING, Case.Status.RESOLVED}),
    Case.Status.WAITING: frozenset({Case.Status.OPEN, Case.Status.RESOLVED}),
    Case.Status.RESOLVED: frozenset(),
}


# --- Selectors ----------------------------------------------------------------------------------


def sla() -> dt.timedelta:
    """How long a case may wait for its first response (CASE_FIRST_RESPONSE_SLA_HOURS)."""
    return dt.timedelta(hours=settings.CASE_FIRST_RESPONSE_SLA_HOURS)


def open_cases(customer: Customer) -> QuerySet[Case]:
    """The customer's unresolved cases (open or waiting), newest first, with their assignee."""
    return (
        Case.objects.filter(customer=customer)
        .exclude(status=Case.Status.RESOLVED)
        .select_related("assignee")
        .order_by("-opened_at", "-pk")
    )


def overdue_q(now: datetime | None = None) -> Q:
    """Unresolved cases without a first response, opened more than the SLA ago."""
    now = now or timezone.now()
    return (
        ~Q(status=Case.Status.RESOLVED)
        & Q(first_response_at__isnull=True)
        & Q(opened_at__lt=now - sla())
    )


def is_overdue(case: Case, now: datetime | None = None) -> bool:
    """``overdue_q`` for one case already in memory (no query)."""
    now = now or timezone.now()
    return (
        case.status != Case.Status.RESOLVED
        and case.first_response_at is None
        and case.opened_at < now - sla()
    )


def queue(
    *,
    assignee: AbstractBaseUser | None = None,
    unassigned: bool = False,
    overdue: bool = False,
    now: datetime | None = None,
) -> QuerySet[Case]:
    """The agents' queue: unresolved cases, most urgent first then oldest, optionally only one
    agent's, only unassigned ones or only overdue ones; customer and assignee joined."""
    cases = Case.objects.exclude(status=Case.Status.RESOLVED)
    if assignee is not None:
        cases = cases.filter(assignee=assignee)
    if unassigned:
        cases = cases.filter(assignee__isnull=True)
    if overdue:
        cases = cases.filter(overdue_q(now))
    return cases.select_related("customer", "assignee").order_by("-priority", "opened_at", "pk")


def case_timeline(case: Case, *, limit: int = 200) -> list[Interaction]:
    """The case's interactions, newest first (at most ``limit``), with the agent of each."""
    return list(
        Interaction.objects.filter(case=case)
        .select_related("agent")
        .order_by("-occurred_at", "-pk")[:limit]
    )


def default_subject(text: str) -> str:
    """The first SUBJECT_LENGTH characters of the message or summary, on one line."""
    line = " ".join((text or "").split())
    if len(line) > SUBJECT_LENGTH:
        return line[: SUBJECT_LENGTH - 1].rstrip() + "…"
    return line or _("(no subject)")


# --- Satisfaction answers -----------------------------------------------------------------------

_SCORE = re.compile(r"\s*([1-5])(?![0-9])(.*)", re.DOTALL)
_OUT_OF_FIVE = re.compile(r"\s*/\s*5(?![0-9])")
_DECIMAL = re.compile(r"[.,٫]\s*[0-9]")
_EDGE = " \t\r\n.,:;!?-–—)(/،؛"


def parse_score(text: str) -> tuple[int, str] | None:
    """(score, comment) when the text starts with one digit 1–5 (Latin, Persian or
    Arabic-Indic, optionally "/5"), else None: "۵ عالی بود" → (5, "عالی بود"); "10", "3.5",
    "6" and "thanks" are not scores."""
    match = _SCORE.fullmatch(to_latin_digits(text or ""))
    if match is None:
        return None
    rest = match.group(2)
    if _DECIMAL.match(rest):
        return None
    rest = _OUT_OF_FIVE.sub("", rest, count=1) if _OUT_OF_FIVE.match(rest) else rest
    return int(match.group(1)), rest.strip(_EDGE)[:CSAT_COMMENT_LENGTH]


def _awaiting_score(customer_id: int, now: datetime) -> Case | None:
    """The customer's latest case whose satisfaction request is within the reply window."""
    return (
        Case.objects.select_for_update(no_key=True)
        .filter(
            customer_id=customer_id,
            csat_requested_at__isnull=False,
            csat_requested_at__gte=now - CSAT_REPLY_WINDOW,
        )
        .order_by("-csat_requested_at", "-pk")
        .first()
    )


# --- Inbound and responses ----------------------------------------------------------------------


def _lock_customer(customer_id: int) -> None:
    # Serialises "open or join" per customer (the row is already locked when the interaction
    # moved first/last seen, which costs nothing more); no-op on SQLite, whose writers queue.
    list(
        Customer.objects.select_for_update(no_key=True)
        .filter(pk=customer_id)
        .values_list("pk", flat=True)
    )


def _newest_open(customer_id: int) -> Case | None:
    return (
        Case.objects.select_for_update(no_key=True)
        .filter(customer_id=customer_id)
        .exclude(status=Case.Status.RESOLVED)
        .order_by("-opened_at", "-pk")
        .first()
    )


def _attach(interaction: Interaction, case: Case) -> None:
    if interaction.case_id != case.pk:
        Interaction.objects.filter(pk=interaction.pk).update(case=case)
        interaction.case = case


def _text_of(interaction: Interaction) -> str:
    text = (interaction.properties or {}).get("text")
    return text if isinstance(text, str) and text.strip() else interaction.summary


def note_inbound(
    interaction: Interaction,
    *,
    may_open: bool = True,
    answered_by: AbstractBaseUser | None = None,
) -> Case | None:
    """A customer's inbound message, call or chat (already on the timeline) joins their newest
    unresolved case (a "waiting" one goes back to "open") or opens a new one; a resolved case
    is never reopened. A message that is a 1–5 score answering a satisfaction request asked
    within CSAT_REPLY_WINDOW is stored on that case instead. ``answered_by``: the agent who
    took the call or chat live (the case has its first response and, if unassigned, its
    agent). ``may_open=False`` only joins (an opt-out keyword is no question). Other kinds of
    interaction change nothing. Returns the case it went to, if any."""
    if (
        interaction.type not in OPENING_TYPES
        or interaction.direction != Interaction.Direction.INBOUND
    ):
        return None
    with transaction.atomic():
        _lock_customer(interaction.customer_id)
        now = timezone.now()
        if interaction.type == Interaction.Type.MESSAGE and answered_by is None:
            scored = parse_score(_text_of(interaction))
            if scored is not None:
                case = _awaiting_score(interaction.customer_id, now)
                if case is not None:
                    _attach(interaction, case)
                    if case.csat_answered_at is None:  # a second score changes nothing
                        _store_score(case, *scored, at=now, via=interaction)
                    return case
        case = _newest_open(interaction.customer_id)
        if case is None:
            if not may_open:
                return None
            case = Case.objects.create(
                customer_id=interaction.customer_id,
                subject=default_subject(_text_of(interaction)),
                channel=interaction.channel,
                opened_at=interaction.occurred_at,
            )
        elif case.status == Case.Status.WAITING:
            case.status = Case.Status.OPEN
            case.save(update_fields=["status", "updated_at"])
        _attach(interaction, case)
        if answered_by is not None:
            _responded(case, at=interaction.occurred_at, agent=answered_by)
        return case


def note_response(
    interaction: Interaction, *, agent: AbstractBaseUser | None, waiting: bool
) -> Case | None:
    """An agent answered the customer (a message, or a call or chat they logged): the newest
    unresolved case gets the interaction, its first response (once) and, if it had none, this
    agent; ``waiting`` (a message: the ball is in the customer's court) moves it from "open" to
    "waiting". Without an unresolved case nothing changes. Returns the case, if any."""
    with transaction.atomic():
        _lock_customer(interaction.customer_id)
        case = _newest_open(interaction.customer_id)
        if case is None:
            return None
        _attach(interaction, case)
        _responded(case, at=interaction.occurred_at, agent=agent)
        if waiting and case.status == Case.Status.OPEN:
            case.status = Case.Status.WAITING
            case.save(update_fields=["status", "updated_at"])
        return case


def _responded(case: Case, *, at: datetime, agent: AbstractBaseUser | None) -> None:
    fields = []
    if case.first_response_at is None:
        # A call logged with an earlier time than the message that opened the case still
        # answered it no sooner than it opened.
        case.first_response_at = max(at, case.opened_at)
        fields.append("first_response_at")
    if case.assignee_id is None and agent is not None and agent.is_active:
        case.assignee = agent
        fields.append("assignee")
    if fields:
        case.save(update_fields=[*fields, "updated_at"])


def attach_to_open_case(interaction: Interaction) -> Case | None:
    """Put a touchpoint (a store visit, a note) on the customer's newest unresolved case, if
    there is one; nothing else changes."""
    with transaction.atomic():
        case = _newest_open(interaction.customer_id)
        if case is not None:
            _attach(interaction, case)
        return case


def log_interaction(
    *, customer: Customer, agent: AbstractBaseUser, **fields: Any
) -> tuple[Interaction, Case | None]:
    """Record what an agent logs on the customer page, and its case: an inbound call or chat
    opens or joins a case (answered live, so with its first response); an inbound message
    opens or joins one; an outbound call, chat or message is the agent's response (a message
    leaves the case "waiting"); a visit or note joins an open case. ``fields`` are those of
    ``services.record_interaction``; one transaction."""
    with transaction.atomic():
        interaction, _created = services.record_interaction(
            customer=customer, agent=agent, **fields
        )
        kind, direction = interaction.type, interaction.direction
        if kind in OPENING_TYPES and direction == Interaction.Direction.INBOUND:
            live = agent if kind in LIVE_TYPES else None
            return interaction, note_inbound(interaction, answered_by=live)
        if kind in OPENING_TYPES and direction == Interaction.Direction.OUTBOUND:
            waiting = kind == Interaction.Type.MESSAGE
            return interaction, note_response(interaction, agent=agent, waiting=waiting)
        return interaction, attach_to_open_case(interaction)


# --- Staff changes ------------------------------------------------------------------------------


def _locked(case: Case | int) -> Case:
    pk = case if isinstance(case, int) else case.pk
    found = (
        Case.objects.select_for_update(no_key=True, of=("self",))
        .select_related("customer", "assignee")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise DomainError("unknown_case", _("This case does not exist any more."), status=404)
    return found


def _not_resolved(case: Case) -> None:
    if case.status == Case.Status.RESOLVED:
        raise DomainError("case_resolved", _("This case is resolved; it no longer changes."))


def check_assignee(assignee: AbstractBaseUser | None) -> None:
    """Raises DomainError("invalid_assignee") unless the user is an active staff member."""
    if assignee is not None and not (assignee.is_active and getattr(assignee, "is_staff", False)):
        raise DomainError("invalid_assignee", _("Only active staff members can take a case."))


def check_move(current: str, new: str) -> None:
    """Raises DomainError("invalid_status") for a status change ALLOWED_MOVES does not list."""
    if new not in Case.Status.values:
        raise DomainError("invalid_status", _("Unknown status."))
    if current != new and new not in ALLOWED_MOVES[current]:
        raise DomainError(
            "invalid_status",
            _("A case cannot go from “%(old)s” to “%(new)s”.")
            % {"old": Case.Status(current).label, "new": Case.Status(new).label},
        )


def check_priority(priority: int) -> None:
    """Raises DomainError("invalid_priority") unless the priority is one of Case.Priority."""
    if priority not in Case.Priority.values:
        raise DomainError("invalid_priority", _("Unknown priority."))


def open_case(
    *,
    customer: Customer,
    subject: str,
    channel: str = ChannelKind.OTHER,
    priority: int = Case.Priority.NORMAL,
    assignee: AbstractBaseUser | None = None,
) -> Case:
    """A case an agent opens by hand (always a new one). Raises DomainError for a merged
    profile, an empty subject, or an unknown channel, priority or assignee."""
    if customer.is_merged:
        raise DomainError(
            "customer_merged", _("This profile was merged; open the case on the one it joined.")
        )
    subject = " ".join((subject or "").split())[:200]
    if not subject:
        raise DomainError("invalid_subject", _("Write a subject."))
    if channel not in ChannelKind.values:
        raise DomainError("invalid_channel", _("Unknown channel."))
    check_priority(priority)
    check_assignee(assignee)
    with transaction.atomic():
        return Case.objects.create(
            customer=customer,
            subject=subject,
            channel=channel,
            priority=priority,
            assignee=assignee,
        )


def assign(case: Case | int, assignee: AbstractBaseUser | None) -> Case:
    """Give an unresolved case to a staff member (None: nobody). Raises DomainError."""
    check_assignee(assignee)
    with transaction.atomic():
        case = _locked(case)
        _not_resolved(case)
        if case.assignee_id != (assignee.pk if assignee is not None else None):
            case.assignee = assignee
            case.save(update_fields=["assignee", "updated_at"])
        return case


def set_priority(case: Case | int, priority: int) -> Case:
    """Change an unresolved case's priority. Raises DomainError."""
    check_priority(priority)
    with transaction.atomic():
        case = _locked(case)
        _not_resolved(case)
        if case.priority != priority:
            case.priority = priority
            case.save(update_fields=["priority", "updated_at"])
        return case


def set_status(case: Case | int, status: str) -> Case:
    """Move between "open" and "waiting" (resolving goes through ``resolve``). Raises
    DomainError for a move ALLOWED_MOVES refuses."""
    with transaction.atomic():
        case = _locked(case)
        check_move(case.status, status)
        if status == Case.Status.RESOLVED:
            raise DomainError("use_resolve", _("Resolve the case with its own action."))
        if case.status != status:
            case.status = status
            case.save(update_fields=["status", "updated_at"])
        return case


# --- Resolving and satisfaction -----------------------------------------------------------------


@dataclass(frozen=True)
class CsatRequest:
    """What asking for satisfaction did: sent on ``channel``, or not, with the reason."""

    sent: bool
    channel: str = ""
    reason: str = ""


CsatSender = Callable[[Case], CsatRequest]
_csat_senders: list[CsatSender] = []


def register_csat_sender(sender: CsatSender) -> None:
    """The channels app's way to send the request (set in its AppConfig.ready(); registering
    again replaces it)."""
    _csat_senders[:] = [sender]


@dataclass(frozen=True)
class Resolution:
    case: Case
    csat: CsatRequest | None  # None: not asked


def resolve(case: Case | int, *, ask_satisfaction: bool) -> Resolution:
    """Resolve an unresolved case (resolved_at now) and, if asked, send the satisfaction
    request through the registered sender (idempotency key ``case-csat:<id>``) in the same
    transaction; csat_requested_at is set only when a message was queued. Raises DomainError
    ("case_resolved") for a case resolved already."""
    with transaction.atomic():
        case = _locked(case)
        _not_resolved(case)
        now = timezone.now()
        case.status, case.resolved_at = Case.Status.RESOLVED, now
        case.save(update_fields=["status", "resolved_at", "updated_at"])
        if not ask_satisfaction:
            return Resolution(case, None)
        if not _csat_senders:
            return Resolution(case, CsatRequest(False, reason=_("No messaging is set up.")))
        request = _csat_senders[0](case)
        if request.sent:
            case.csat_requested_at = now
            case.save(update_fields=["csat_requested_at", "updated_at"])
        return Resolution(case, request)


def resolve_many(cases: Iterable[Case], *, ask_satisfaction: bool) -> list[Resolution]:
    """``resolve`` each unresolved case, each in its own transaction; resolved ones are
    skipped."""
    done = []
    for case in cases:
        if case.status == Case.Status.RESOLVED:
            continue
        try:
            done.append(resolve(case, ask_satisfaction=ask_satisfaction))
        except DomainError as error:
            if error.code != "case_resolved":  # resolved meanwhile by someone else
                raise
    return done


def _store_score(
    case: Case,
    score: int,
    comment: str,
    *,
    at: datetime,
    via: Interaction | None = None,
    agent: AbstractBaseUser | None = None,
) -> None:
    case.csat_score, case.csat_comment, case.csat_answered_at = score, comment, at
    case.save(update_fields=["csat_score", "csat_comment", "csat_answered_at", "updated_at"])
    summary = f"{score}/5" + (f": {comment[:200]}" if comment else "")
    row, _created = services.record_interaction(
        customer=case.customer,
        type=Interaction.Type.TRACK,
        channel=via.channel if via is not None else case.channel,
        direction=Interaction.Direction.INBOUND,
        name=CSAT_EVENT,
        summary=summary,
        properties={"case": case.pk, "score": score, "comment": comment},
        occurred_at=at,
        agent=agent,
    )
    _attach(row, case)


def record_satisfaction(
    case: Case | int, *, score: int, comment: str = "", agent: AbstractBaseUser | None = None
) -> Case:
    """Store a score the customer gave an agent (by phone, in the store) on a resolved case,
    with its "Satisfaction Rated" timeline row. Raises DomainError for a score outside 1–5, an
    unresolved case or one already rated."""
    if score not in range(1, 6):
        raise DomainError("invalid_score", _("A satisfaction score is a whole number from 1 to 5."))
    with transaction.atomic():
        case = _locked(case)
        if case.status != Case.Status.RESOLVED:
            raise DomainError("case_not_resolved", _("Resolve the case before rating it."))
        if case.csat_answered_at is not None:
            raise DomainError("already_rated", _("The customer already rated this case."))
        _store_score(
            case,
            score,
            " ".join((comment or "").split())[:CSAT_COMMENT_LENGTH],
            at=timezone.now(),
            agent=agent,
        )
        return case


_UNCHANGED: Any = object()


def update_case(
    case: Case | int,
    *,
    subject: str | None = None,
    priority: int | None = None,
    assignee: AbstractBaseUser | None = _UNCHANGED,
    status: str | None = None,
    ask_satisfaction: bool = False,
    score: int | None = None,
    comment: str = "",
    agent: AbstractBaseUser | None = None,
) -> Resolution | None:
    """The case page's save: each given change through its own rule (``assign``,
    ``set_priority``, ``set_status`` or ``resolve``, ``record_satisfaction``), all or none.
    Returns the resolution when this save resolved the case. Raises DomainError."""
    with transaction.atomic():
        current = _locked(case)
        if subject is not None and subject != current.subject:
            _not_resolved(current)
            subject = " ".join(subject.split())[:200]
            if not subject:
                raise DomainError("invalid_subject", _("Write a subject."))
            current.subject = subject
            current.save(update_fields=["subject", "updated_at"])
        if assignee is not _UNCHANGED and current.assignee != assignee:
            assign(current, assignee)
        if priority is not None and priority != current.priority:
            set_priority(current, priority)
        resolution = None
        if status is not None and status != current.status:
            check_move(current.status, status)
            if status == Case.Status.RESOLVED:
                resolution = resolve(current, ask_satisfaction=ask_satisfaction)
            else:
                set_status(current, status)
        if score is not None:
            record_satisfaction(current, score=score, comment=comment, agent=agent)
        return resolution
