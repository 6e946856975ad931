"""Dates as the customer reads them: in their time zone, calendar and digits.

Persian speakers get the Solar Hijri (Jalali) calendar with Persian digits, Arabic speakers the
Gregorian calendar with Arabic-Indic digits, everyone else Django's own locale formats with Latin
digits. Only display lives here: the database and every computation stay in UTC/Gregorian.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jdatetime
from django.conf import settings
from django.utils import timezone, translation
from django.utils.formats import date_format, time_format

PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
# Persian months of the Solar Hijri year, Farvardin first (jdatetime's own table).
JALALI_MONTHS: tuple[str, ...] = tuple(jdatetime.date.j_months_fa)


def customer_zone(time_zone: str) -> ZoneInfo:
    """The customer's zone; settings.TIME_ZONE for a blank or unknown name. Never raises."""
    name = (time_zone or "").strip()
    if name:
        try:
            return ZoneInfo(name)
        # Unknown names raise ZoneInfoNotFoundError; paths and odd characters, ValueError.
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    return ZoneInfo(settings.TIME_ZONE)


def _language(locale: str | None) -> str:
    """The primary language subtag of `locale`, else of the active language."""
    code = locale or translation.get_language() or settings.LANGUAGE_CODE
    return code.split("-")[0].split("_")[0].lower()


def to_jalali_date(d: dt.date) -> str:
    """The Solar Hijri date as "1405/09/01", Latin digits (for exports and sorting)."""
    jalali = jdatetime.date.fromgregorian(year=d.year, month=d.month, day=d.day)
    return f"{jalali.year:04d}/{jalali.month:02d}/{jalali.day:02d}"


def format_local(
    value: dt.datetime | dt.date,
    *,
    locale: str,
    zone: ZoneInfo | str | None = None,
    with_time: bool = True,
) -> str:
    """`value` as the customer reads it, in `zone` (settings.TIME_ZONE when None).

    Naive datetimes are taken as settings.TIME_ZONE, as Django does. A plain `date` is shown
    as is, without a time. Persian: "۱ آذر ۱۴۰۵، ۱۴:۰۰" (hour unpadded, as Django's fa "G:i").
    """
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):
            value = timezone.make_aware(value, ZoneInfo(settings.TIME_ZONE))
        tz = zone if isinstance(zone, ZoneInfo) else customer_zone(zone or "")
        value = value.astimezone(tz)
    else:
        with_time = False
    language = _language(locale)
    if language == "fa":
        jalali = jdatetime.date.fromgregorian(year=value.year, month=value.month, day=value.day)
        text = f"{jalali.day} {JALALI_MONTHS[jalali.month - 1]} {jalali.year}"
        if with_time:
            text += f"، {value.hour}:{value.minute:02d}"
        return text.translate(PERSIAN_DIGITS)
    # Django's locale formats (month names, order, 12/24 h) for the Gregorian languages. Date
    # and time are joined here because Django's ar locale has no DATETIME_FORMAT of its own.
    with translation.override(language):
        text = date_format(value, "DATE_FORMAT")
        if with_time:
            text += ("، " if language == "ar" else ", ") + time_format(value, "TIME_FORMAT")
    return text.translate(ARABIC_DIGITS) if language == "ar" else text
