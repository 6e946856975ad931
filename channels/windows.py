"""When a marketing message may go out: send windows, weekly rest days and holidays.

Everything here is pure except `holidays_between`, the one selector. Windows are wall-clock
times in the customer's zone, so a message meant for 09:00 Tehran stays 09:00 Tehran whatever
the server's zone or DST does.

Semantics of `next_allowed`, chosen so that one local day is either open or shut as a whole:

* A window ``(start, end)`` with start < end allows ``[start, end)`` on each open day; start >
  end crosses midnight, and the part after midnight belongs to the *previous* local day's window:
  with 20:00-02:00, Thursday's window runs from Thursday 20:00 to Friday 02:00. So on an IR
  customer's Friday (rest day) the early hours 00:00-02:00 are still allowed (Thursday evening's
  window), and nothing is allowed from Friday 20:00 to Saturday 02:00. start == end, or no
  window at all, means the whole day.
* A day is open unless its weekday is in `rest_days` or its date is in `holidays`, both in the
  customer's local calendar.
* Membership is decided on the local wall clock. In a fall-back hour that repeats, both passes
  are allowed if the wall time is inside the window; in a spring-forward gap the window opens at
  the first instant that exists (e.g. 03:00 for a 02:30 start in America/New_York).
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings

from customers.calendars import customer_zone

__all__ = [
    "DEFAULT_REST_DAYS",
    "MAX_SEARCH_DAYS",
    "REST_DAYS",
    "TZ_REGIONS",
    "customer_zone",
    "holidays_between",
    "next_allowed",
    "region_for",
    "rest_days_for",
]

logger = logging.getLogger(__name__)

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)  # Python's date.weekday()

# Weekly rest days per region (ISO 3166 code), as Python weekday numbers.
REST_DAYS: dict[str, frozenset[int]] = {
    # Iran: Friday is the one official weekly holiday (Labour Law art. 62); Thursday is a
    # half day for many employers. Parliament voted for Friday+Saturday in May 2024, but that
    # needs Guardian Council approval; revisit if it comes into force.
    "IR": frozenset({FRI}),
    # Azerbaijan: five-day week with Saturday and Sunday off (Labour Code of the Republic of
    # Azerbaijan, 1999).
    "AZ": frozenset({SAT, SUN}),
    # UAE: Saturday and Sunday since 1 January 2022 (federal government announcement, WAM,
    # 7 December 2021); before that Friday and Saturday.
    "AE": frozenset({SAT, SUN}),
    # Saudi Arabia: Friday and Saturday since 29 June 2013 (Royal Order A/185 of 23 June 2013);
    # before that Thursday and Friday.
    "SA": frozenset({FRI, SAT}),
}
# Everywhere else: the Monday-to-Friday week (ISO 8601 weekend).
DEFAULT_REST_DAYS: frozenset[int] = frozenset({SAT, SUN})

# Time zones of our markets and the region whose rest days and holidays apply there. Only
# zones used by a single country belong here: a shared zone would say nothing about the region.
TZ_REGIONS: dict[str, str] = {
    "Asia/Tehran": "IR",
    "Iran": "IR",  # tzdata's legacy alias of Asia/Tehran
    "Asia/Baku": "AZ",
    "Asia/Dubai": "AE",
    "Asia/Riyadh": "SA",
}

# No customer should wait a year; a longer search means every day is shut (a misconfiguration).
MAX_SEARCH_DAYS = 400
# Zones change offset at most twice a year; no real zone changes twice within six hours.
_OFFSET_STEP = dt.timedelta(hours=6)
_MIDNIGHT = dt.time(0, 0)


def rest_days_for(region: str) -> frozenset[int]:
    """The weekly rest days of `region`, DEFAULT_REST_DAYS for a region we don't list."""
    return REST_DAYS.get(region.upper(), DEFAULT_REST_DAYS)


def region_for(time_zone: str, phone: str | None = None, default: str | None = None) -> str:
    """The customer's region: from the time zone, else an E.164 phone, else `default` or
    settings.PHONE_DEFAULT_REGION. Never raises."""
    region = TZ_REGIONS.get((time_zone or "").strip())
    if region:
        return region
    if phone:
        try:
            number = phonenumbers.parse(phone, None)
        except phonenumbers.NumberParseException:
            number = None
        code = phonenumbers.region_code_for_number(number) if number is not None else None
        # "001" marks non-geographic numbers (e.g. +800), "ZZ" unknown ones.
        if code and code.isalpha() and code != "ZZ":
            return code.upper()
    return (default or settings.PHONE_DEFAULT_REGION).upper()


def holidays_between(region: str, start: dt.date, end: dt.date) -> frozenset[dt.date]:
    """Dates of the holidays of `region` and of every region, start and end included."""
    from channels.models import Holiday  # the pure helpers above stay importable without apps

    return frozenset(
        Holiday.objects.filter(
            region__in={region.upper(), ""}, date__range=(start, end)
        ).values_list("date", flat=True)
    )


def next_allowed(
    at: dt.datetime,
    *,
    zone: ZoneInfo,
    window: tuple[dt.time, dt.time] | None,
    rest_days: frozenset[int] = frozenset(),
    holidays: frozenset[dt.date] = frozenset(),
) -> dt.datetime:
    """The earliest instant ≥ `at` at which sending is allowed (semantics in the module doc).

    Returns `at` itself when it is already allowed, otherwise an instant in `at`'s tzinfo.
    `holidays` are local dates; days past the last one given count as ordinary days. If nothing
    is allowed within MAX_SEARCH_DAYS, logs a warning and returns `at`. Raises ValueError for a
    naive `at`.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("next_allowed() needs an aware datetime")

    def is_open(day: dt.date) -> bool:
        return day.weekday() not in rest_days and day not in holidays

    start, end = window if window is not None else (_MIDNIGHT, _MIDNIGHT)
    whole_day, crossing = start == end, start > end
    if whole_day:
        start = end = _MIDNIGHT  # an open day opens at its midnight, whatever the bounds say

    def allowed(instant: dt.datetime) -> bool:
        local = instant.astimezone(zone)
        day, wall = local.date(), local.time()
        if whole_day:
            return is_open(day)
        if not crossing:
            return start <= wall < end and is_open(day)
        return (wall >= start and is_open(day)) or (
            wall < end and is_open(day - dt.timedelta(days=1))
        )

    if allowed(at):
        return at

    # The allowed set only begins at a window start (reached as the wall clock runs) or at an
    # offset change (the wall clock jumps into a window), so those are the only candidates.
    at_utc = at.astimezone(dt.UTC)
    first_day = at.astimezone(zone).date() - dt.timedelta(days=1)
    best: dt.datetime | None = None
    for offset in range(MAX_SEARCH_DAYS + 2):
        day = first_day + dt.timedelta(days=offset)
        day_start = _instant(day, _MIDNIGHT, zone)
        day_end = _instant(day + dt.timedelta(days=1), _MIDNIGHT, zone)
        candidates = _offset_changes(zone, day_start, day_end)
        if is_open(day):
            candidates += _instants(dt.datetime.combine(day, start), zone)
        for candidate in candidates:
            if candidate > at_utc and (best is None or candidate < best) and allowed(candidate):
                best = candidate
        # Local days are not quite in instant order around odd midnight transitions, so the
        # day after a hit is searched too before settling.
        if best is not None and day_start > best:
            return best.astimezone(at.tzinfo)
    if best is not None:
        return best.astimezone(at.tzinfo)
    logger.warning(
        "channels.window_never_opens",
        extra={"at": at.isoformat(), "zone": str(zone), "window": str(window)},
    )
    return at


def _instants(wall: dt.datetime, zone: ZoneInfo) -> list[dt.datetime]:
    """The UTC instants showing naive `wall` in `zone`: none in a gap, two in a repeated hour."""
    found = []
    for fold in (0, 1):
        instant = wall.replace(tzinfo=zone, fold=fold).astimezone(dt.UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == wall and instant not in found:
            found.append(instant)
    return found


def _instant(day: dt.date, wall: dt.time, zone: ZoneInfo) -> dt.datetime:
    """One UTC instant for `day` `wall` in `zone`, even inside a gap (fold=0's reading)."""
    return dt.datetime.combine(day, wall, tzinfo=zone).astimezone(dt.UTC)


def _offset_changes(zone: ZoneInfo, lo: dt.datetime, hi: dt.datetime) -> list[dt.datetime]:
    """The first instants of each new UTC offset of `zone` in (lo, hi], to the second."""

    def offset(instant: dt.datetime) -> dt.timedelta | None:
        return instant.astimezone(zone).utcoffset()

    changes = []
    a = lo
    while a < hi:
        b = min(a + _OFFSET_STEP, hi)
        before = offset(a)
        if offset(b) != before:
            # Bisect (a, b] for the first second with a different offset.
            low, high = 0, int((b - a).total_seconds())
            while high - low > 1:
                mid = (low + high) // 2
                if offset(a + dt.timedelta(seconds=mid)) == before:
                    low = mid
                else:
                    high = mid
            changes.append(a + dt.timedelta(seconds=high))
        a = b
    return changes
