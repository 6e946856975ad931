import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import translation

from customers.calendars import format_local, to_jalali_date
from customers.models import Customer

TEHRAN = ZoneInfo("Asia/Tehran")
# 2026-11-22 10:30 UTC is 14:00 in Tehran, 1 Azar 1405 in the Solar Hijri calendar.
MOMENT = dt.datetime(2026, 11, 22, 10, 30, tzinfo=dt.UTC)
LATIN_DIGITS = set("0123456789")


@pytest.fixture(autouse=True)
def utc_server(settings):
    settings.TIME_ZONE = "UTC"


@pytest.mark.parametrize("zone", [TEHRAN, "Asia/Tehran"])
def test_persian_reads_the_jalali_calendar_in_persian_digits(zone):
    assert format_local(MOMENT, locale="fa", zone=zone) == "۱ آذر ۱۴۰۵، ۱۴:۰۰"


@pytest.mark.parametrize(
    ("value", "with_time", "expected"),
    [
        (MOMENT, False, "۱ آذر ۱۴۰۵"),
        (dt.datetime(2026, 11, 21, 21, 5, tzinfo=dt.UTC), True, "۱ آذر ۱۴۰۵، ۰:۳۵"),
        (dt.datetime(2026, 11, 21, 20, 29, tzinfo=dt.UTC), True, "۳۰ آبان ۱۴۰۵، ۲۳:۵۹"),
        (dt.datetime(2026, 3, 20, 20, 30, tzinfo=dt.UTC), False, "۱ فروردین ۱۴۰۵"),
        (dt.date(2026, 11, 22), True, "۱ آذر ۱۴۰۵"),
    ],
)
def test_persian_dates_follow_the_local_day(value, with_time, expected):
    assert format_local(value, locale="fa-IR", zone=TEHRAN, with_time=with_time) == expected


def test_zone_defaults_to_settings_time_zone(settings):
    assert format_local(MOMENT, locale="fa") == "۱ آذر ۱۴۰۵، ۱۰:۳۰"
    settings.TIME_ZONE = "Asia/Tehran"
    assert format_local(MOMENT, locale="fa") == "۱ آذر ۱۴۰۵، ۱۴:۰۰"


def test_unknown_zone_name_falls_back_to_settings():
    assert format_local(MOMENT, locale="fa", zone="Mars/Olympus") == "۱ آذر ۱۴۰۵، ۱۰:۳۰"


def test_naive_datetime_is_taken_in_settings_time_zone():
    naive = dt.datetime(2026, 11, 22, 10, 30)  # noqa: DTZ001

    assert format_local(naive, locale="fa", zone=TEHRAN) == "۱ آذر ۱۴۰۵، ۱۴:۰۰"


def test_arabic_reads_gregorian_in_arabic_indic_digits():
    text = format_local(MOMENT, locale="ar", zone=TEHRAN)

    assert text.startswith("٢٢ نوفمبر، ٢٠٢٦، ٢:٠٠")
    assert not LATIN_DIGITS & set(text)


@pytest.mark.parametrize(
    ("locale", "with_time", "expected"),
    [
        ("en", True, "Nov. 22, 2026, 2 p.m."),
        ("en", False, "Nov. 22, 2026"),
        ("az", True, "22 Noyabr 2026, 14:00"),
    ],
)
def test_latin_languages_use_djangos_formats(locale, with_time, expected):
    assert format_local(MOMENT, locale=locale, zone=TEHRAN, with_time=with_time) == expected


def test_blank_locale_uses_the_active_language():
    with translation.override("fa"):
        assert format_local(MOMENT, locale="", zone=TEHRAN) == "۱ آذر ۱۴۰۵، ۱۴:۰۰"


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2026, 11, 22), "1405/09/01"),
        (dt.date(2026, 3, 21), "1405/01/01"),
        (dt.date(2026, 3, 20), "1404/12/29"),
    ],
)
def test_to_jalali_date(day, expected):
    assert to_jalali_date(day) == expected


def _render(source, **context):
    return Template("{% load crm_dates %}" + source).render(Context(context))


def test_filter_uses_the_customers_language_and_zone():
    customer = Customer(locale="fa", time_zone="Asia/Tehran")

    with translation.override("en"):
        assert _render("{{ value|local_date:customer }}", value=MOMENT, customer=customer) == (
            "۱ آذر ۱۴۰۵، ۱۴:۰۰"
        )


def test_filter_falls_back_to_the_active_language_and_settings_zone():
    customer = Customer(locale="", time_zone="")

    with translation.override("ar"):
        with_customer = _render("{{ value|local_date:customer }}", value=MOMENT, customer=customer)
        without = _render("{{ value|local_date }}", value=MOMENT)

    assert with_customer == without
    assert without.startswith("٢٢ نوفمبر، ٢٠٢٦، ١٠:٣٠")


@pytest.mark.parametrize("value", [None, "", "2026-11-22", 42])
def test_filter_renders_nothing_for_missing_or_odd_values(value):
    customer = Customer(locale="fa", time_zone="Asia/Tehran")

    assert _render("{{ value|local_date:customer }}", value=value, customer=customer) == ""
    assert _render("{{ value|local_date }}", value=value) == ""


def test_filter_renders_nothing_for_an_unconvertible_datetime():
    far = dt.datetime(9999, 12, 31, 23, tzinfo=dt.UTC)

    assert (
        _render(
            "{{ value|local_date:customer }}",
            value=far,
            customer=Customer(locale="fa", time_zone="Asia/Tehran"),
        )
        == ""
    )
