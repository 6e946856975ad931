import datetime as dt
import logging
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from channels.models import Holiday
from channels.windows import (
    DEFAULT_REST_DAYS,
    REST_DAYS,
    customer_zone,
    holidays_between,
    next_allowed,
    region_for,
    rest_days_for,
)

TEHRAN = ZoneInfo("Asia/Tehran")
BAKU = ZoneInfo("Asia/Baku")
NEW_YORK = ZoneInfo("America/New_York")
SANTIAGO = ZoneInfo("America/Santiago")
DAYTIME = (dt.time(9), dt.time(21))
EVENING = (dt.time(20), dt.time(2))
IR = REST_DAYS["IR"]


def local(zone, *args, fold=0):
    return dt.datetime(*args, tzinfo=zone, fold=fold)


def utc(*args):
    return dt.datetime(*args, tzinfo=dt.UTC)


# 2026-11-19 is a Thursday, 2026-11-20 a Friday.
@pytest.mark.parametrize(
    ("at", "rest_days", "expected"),
    [
        (local(TEHRAN, 2026, 11, 17, 23, 30), frozenset(), local(TEHRAN, 2026, 11, 18, 9)),
        (local(TEHRAN, 2026, 11, 17, 8, 59, 30), frozenset(), local(TEHRAN, 2026, 11, 17, 9)),
        (local(TEHRAN, 2026, 11, 17, 21), frozenset(), local(TEHRAN, 2026, 11, 18, 9)),
        (local(TEHRAN, 2026, 11, 19, 22), IR, local(TEHRAN, 2026, 11, 21, 9)),
        (local(TEHRAN, 2026, 11, 20, 12), IR, local(TEHRAN, 2026, 11, 21, 9)),
        (local(BAKU, 2026, 11, 20, 22), REST_DAYS["AZ"], local(BAKU, 2026, 11, 23, 9)),
    ],
)
def test_message_waits_for_the_next_open_window(at, rest_days, expected):
    result = next_allowed(at, zone=at.tzinfo, window=DAYTIME, rest_days=rest_days)

    assert result == expected
    assert result.astimezone(at.tzinfo).replace(tzinfo=None) == expected.replace(tzinfo=None)


def test_message_inside_the_window_goes_now_unchanged():
    at = local(TEHRAN, 2026, 11, 17, 10, 0, 17)

    assert next_allowed(at, zone=TEHRAN, window=DAYTIME) is at


def test_result_keeps_the_callers_time_zone():
    at = utc(2026, 11, 17, 20)  # 23:30 in Tehran

    result = next_allowed(at, zone=TEHRAN, window=DAYTIME)

    assert result == utc(2026, 11, 18, 5, 30)
    assert result.tzinfo is dt.UTC


def test_holiday_on_the_next_day_is_skipped():
    at = local(TEHRAN, 2026, 11, 17, 23, 30)

    result = next_allowed(
        at, zone=TEHRAN, window=DAYTIME, rest_days=IR, holidays=frozenset({dt.date(2026, 11, 18)})
    )

    assert result == local(TEHRAN, 2026, 11, 19, 9)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (local(TEHRAN, 2026, 11, 17, 1), local(TEHRAN, 2026, 11, 17, 1)),
        (local(TEHRAN, 2026, 11, 17, 3), local(TEHRAN, 2026, 11, 17, 20)),
        (local(TEHRAN, 2026, 11, 17, 2), local(TEHRAN, 2026, 11, 17, 20)),
        (local(TEHRAN, 2026, 11, 17, 19, 59), local(TEHRAN, 2026, 11, 17, 20)),
        (local(TEHRAN, 2026, 11, 17, 23, 59), local(TEHRAN, 2026, 11, 17, 23, 59)),
    ],
)
def test_window_across_midnight(at, expected):
    assert next_allowed(at, zone=TEHRAN, window=EVENING) == expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # Friday's early hours close Thursday evening's window, so they stay allowed.
        (local(TEHRAN, 2026, 11, 20, 1), local(TEHRAN, 2026, 11, 20, 1)),
        # Friday evening's window is Friday's own: shut until Saturday evening.
        (local(TEHRAN, 2026, 11, 20, 3), local(TEHRAN, 2026, 11, 21, 20)),
        (local(TEHRAN, 2026, 11, 20, 21), local(TEHRAN, 2026, 11, 21, 20)),
        (local(TEHRAN, 2026, 11, 21, 1), local(TEHRAN, 2026, 11, 21, 20)),
    ],
)
def test_window_across_midnight_belongs_to_the_day_it_starts(at, expected):
    assert next_allowed(at, zone=TEHRAN, window=EVENING, rest_days=IR) == expected


def test_no_window_on_a_rest_day_waits_for_local_midnight():
    at = local(TEHRAN, 2026, 11, 20, 15)

    assert next_allowed(at, zone=TEHRAN, window=None, rest_days=IR) == local(
        TEHRAN, 2026, 11, 21, 0
    )


def test_equal_window_ends_mean_the_whole_day():
    at = local(TEHRAN, 2026, 11, 20, 15)
    whole_day = (dt.time(8), dt.time(8))

    assert next_allowed(at, zone=TEHRAN, window=whole_day) is at
    assert next_allowed(at, zone=TEHRAN, window=whole_day, rest_days=IR) == local(
        TEHRAN, 2026, 11, 21, 0
    )


@pytest.mark.parametrize(
    ("at", "window", "expected"),
    [
        # Spring forward, 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
        (utc(2026, 3, 8, 5), (dt.time(2, 30), dt.time(5)), utc(2026, 3, 8, 7)),
        (utc(2026, 3, 8, 3), (dt.time(2), dt.time(2, 30)), utc(2026, 3, 9, 6)),
        (utc(2026, 3, 8, 3), DAYTIME, utc(2026, 3, 8, 13)),
        (utc(2026, 3, 8, 5), (dt.time(3), dt.time(4)), utc(2026, 3, 8, 7)),
        # Fall back, 2026-11-01: 02:00 EDT goes back to 01:00 EST (06:00 UTC).
        (utc(2026, 11, 1, 2), DAYTIME, utc(2026, 11, 1, 14)),
        (utc(2026, 11, 1, 5, 50), (dt.time(0, 30), dt.time(1, 45)), utc(2026, 11, 1, 6)),
        (utc(2026, 11, 1, 6, 10), (dt.time(1, 30), dt.time(2)), utc(2026, 11, 1, 6, 30)),
        (utc(2026, 11, 1, 5, 10), (dt.time(1, 30), dt.time(2)), utc(2026, 11, 1, 5, 30)),
    ],
)
def test_new_york_dst_transitions(at, window, expected):
    assert next_allowed(at, zone=NEW_YORK, window=window) == expected


def test_second_pass_of_a_repeated_hour_is_allowed_when_the_wall_clock_is_inside():
    at = local(NEW_YORK, 2026, 11, 1, 1, 35, fold=1)

    assert next_allowed(at, zone=NEW_YORK, window=(dt.time(1, 30), dt.time(2))) is at


def test_day_opening_at_a_missing_midnight_opens_at_the_first_real_instant():
    # Santiago skips 2026-09-06 00:00-01:00; Saturday is shut here.
    at = local(SANTIAGO, 2026, 9, 5, 12)

    result = next_allowed(at, zone=SANTIAGO, window=None, rest_days=frozenset({5}))

    assert result == utc(2026, 9, 6, 4)
    assert result.astimezone(SANTIAGO).time() == dt.time(1)


def test_search_gives_up_after_a_year_with_a_warning(caplog):
    at = local(TEHRAN, 2026, 11, 20, 15)

    with caplog.at_level(logging.WARNING, logger="channels.windows"):
        result = next_allowed(at, zone=TEHRAN, window=DAYTIME, rest_days=frozenset(range(7)))

    assert result is at
    assert [r.message for r in caplog.records] == ["channels.window_never_opens"]


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="aware"):
        next_allowed(dt.datetime(2026, 11, 20, 15), zone=TEHRAN, window=DAYTIME)  # noqa: DTZ001


# An oracle that walks minute by minute, written straight from the documented semantics.
def _allowed_by_definition(instant, zone, window, closed):
    wall = instant.astimezone(zone)
    day, time = wall.date(), wall.time()

    def is_open(d):
        return not closed(d)

    if window is None or window[0] == window[1]:
        return is_open(day)
    start, end = window
    if start < end:
        return is_open(day) and start <= time < end
    yesterday = day - dt.timedelta(days=1)
    return (is_open(day) and time >= start) or (is_open(yesterday) and time < end)


def _walk(at, zone, window, closed):
    if _allowed_by_definition(at, zone, window, closed):
        return at
    minute = at.astimezone(dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    while not _allowed_by_definition(minute, zone, window, closed):
        minute += dt.timedelta(minutes=1)
    return minute


quarter_hours = st.builds(dt.time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
windows = st.one_of(
    st.none(), quarter_hours.map(lambda t: (t, t)), st.tuples(quarter_hours, quarter_hours)
)


@hypothesis_settings(max_examples=150, deadline=None)
@given(
    at=st.datetimes(
        min_value=dt.datetime(2026, 1, 1),  # noqa: DTZ001
        max_value=dt.datetime(2026, 12, 31),  # noqa: DTZ001
        timezones=st.just(dt.UTC),
    ),
    zone=st.sampled_from(
        [TEHRAN, BAKU, NEW_YORK, SANTIAGO, ZoneInfo("Australia/Lord_Howe"), ZoneInfo("UTC")]
    ),
    window=windows,
    rest_days=st.frozensets(st.integers(0, 6), max_size=3),
    holiday_offsets=st.frozensets(st.integers(-1, 6), max_size=3),
)
def test_next_allowed_matches_a_minute_by_minute_walk(at, zone, window, rest_days, holiday_offsets):
    today = at.astimezone(zone).date()
    holidays = frozenset(today + dt.timedelta(days=n) for n in holiday_offsets)

    def closed(day):
        return day.weekday() in rest_days or day in holidays

    result = next_allowed(at, zone=zone, window=window, rest_days=rest_days, holidays=holidays)

    assert result == _walk(at, zone, window, closed)


@pytest.mark.parametrize(
    ("time_zone", "phone", "default", "expected"),
    [
        ("Asia/Tehran", None, None, "IR"),
        (" Asia/Baku ", "+971501234567", None, "AZ"),
        ("Asia/Dubai", None, None, "AE"),
        ("Asia/Riyadh", None, None, "SA"),
        ("", "+994501234567", None, "AZ"),
        ("Europe/Berlin", "+966501234567", None, "SA"),
        ("", "+80012345678", "AE", "AE"),
        ("", "not a phone", "ae", "AE"),
        ("", "09121234567", None, "IR"),
        ("", None, None, "IR"),
    ],
)
def test_region_for(time_zone, phone, default, expected):
    assert region_for(time_zone, phone, default) == expected


def test_region_for_falls_back_to_the_default_phone_region(settings):
    settings.PHONE_DEFAULT_REGION = "AZ"

    assert region_for("Mars/Olympus") == "AZ"


def test_rest_days_of_an_unlisted_region_are_the_weekend():
    assert rest_days_for("de") == DEFAULT_REST_DAYS == frozenset({5, 6})
    assert rest_days_for("sa") == frozenset({4, 5})


@pytest.mark.parametrize("name", ["", "  ", "Mars/Olympus", "../../etc/passwd", "/etc/hostname"])
def test_customer_zone_falls_back_to_settings_for_unknown_names(settings, name):
    settings.TIME_ZONE = "Asia/Dubai"

    assert customer_zone(name) == ZoneInfo("Asia/Dubai")


def test_customer_zone_knows_real_zones():
    assert customer_zone("Asia/Tehran") == TEHRAN


@pytest.mark.django_db
def test_holidays_between_reads_the_region_and_all_regions():
    Holiday.objects.create(date=dt.date(2026, 3, 21), region="IR", name="Nowruz")
    Holiday.objects.create(date=dt.date(2026, 3, 22), region="IR", name="Nowruz")
    Holiday.objects.create(date=dt.date(2026, 3, 21), region="AZ", name="Novruz")
    Holiday.objects.create(date=dt.date(2026, 3, 25), region="", name="Company day")
    Holiday.objects.create(date=dt.date(2026, 4, 1), region="IR", name="Islamic Republic Day")

    assert holidays_between("ir", dt.date(2026, 3, 20), dt.date(2026, 3, 31)) == frozenset(
        {dt.date(2026, 3, 21), dt.date(2026, 3, 22), dt.date(2026, 3, 25)}
    )
    assert holidays_between("AE", dt.date(2026, 3, 20), dt.date(2026, 3, 25)) == frozenset(
        {dt.date(2026, 3, 25)}
    )


@pytest.mark.django_db
def test_holidays_from_the_database_hold_the_message():
    Holiday.objects.create(date=dt.date(2026, 3, 21), region="IR", name="Nowruz")
    at = local(TEHRAN, 2026, 3, 20, 22)  # a Friday
    holidays = holidays_between("IR", at.date(), at.date() + dt.timedelta(days=30))

    result = next_allowed(at, zone=TEHRAN, window=DAYTIME, rest_days=IR, holidays=holidays)

    assert result == local(TEHRAN, 2026, 3, 22, 9)
