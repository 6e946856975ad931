"""Pure normalisers for customer identifiers and search text.

No database and no models: every function here takes a string and returns a string (or None), never
raises, and is idempotent, so the same value always lands on the same identity row and the admin
search query matches the stored search column.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import phonenumbers
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MAX_IDENTIFIER_LENGTH = 255

# Persian (U+06F0–U+06F9) and Arabic-Indic (U+0660–U+0669) digits → ASCII.
_LATIN_DIGITS = str.maketrans(
    "۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩",
    "01234567890123456789",
)

_ARABIC_TO_PERSIAN = {ord("ي"): "ی", ord("ى"): "ی", ord("ك"): "ک"}
# ZWNJ, ZWJ, tatweel, Arabic harakat/tanwin/shadda/sukun/hamza marks, superscript alef.
_DROPPED_MARKS = dict.fromkeys(
    [0x200C, 0x200D, 0x0640, *range(0x064B, 0x0660), 0x0670],
)
_LETTER_TABLE = str.maketrans({**_ARABIC_TO_PERSIAN, **_DROPPED_MARKS})

# Invisible marks that ride along when a number is copied out of right-to-left text.
_DIRECTION_MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_INVISIBLE = _DIRECTION_MARKS + "\u200b\u200c\u200d\ufeff"
_PHONE_SEPARATORS = re.compile(
    rf"[\s\-\u2010-\u2015\u2212.()\[\]{_INVISIBLE}]+",
)
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE}]+")
_HANDLE_PREFIX = re.compile(r"^[@\s]+")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_PHONE_LIKE = re.compile(r"(\+|00)?[0-9]+", re.ASCII)

_HANDLE_KINDS = frozenset({"instagram", "telegram"})
# A number this short made of one repeated digit is a plausible id ("7", "11"), not a placeholder.
_MIN_REPEATED_DIGITS = 5


def to_latin_digits(text: str) -> str:
    """`text` with Persian and Arabic-Indic digits as 0-9; nothing else changes, never raises."""
    return text.translate(_LATIN_DIGITS)


def normalize_letters(text: str) -> str:
    """NFKC text with ي/ى→ی, ك→ک and no ZWNJ, ZWJ, tatweel or Arabic diacritics; idempotent."""
    text = unicodedata.normalize("NFKC", text).translate(_LETTER_TABLE)
    # Removing a joiner can leave a base letter next to a combining mark it composes with.
    return unicodedata.normalize("NFKC", text)


def normalize_search_text(text: str) -> str:
    """Caseless, letter- and digit-normalised, single-spaced text; idempotent, never raises."""
    text = to_latin_digits(normalize_letters(text)).casefold()
    # Case folding can leave a decomposed sequence ("ΐ" as three code points) that NFKC recomposes.
    return " ".join(unicodedata.normalize("NFKC", text).split())


def normalize_email(raw: str) -> str | None:
    """Trimmed lower-case address with latin digits, or None unless it is local@domain.tld."""
    value = to_latin_digits(_INVISIBLE_RE.sub("", raw)).strip().lower()
    if not value.isprintable() or " " in value or value.count("@") != 1:
        return None
    local, domain = value.split("@")
    labels = domain.split(".")
    if not local or len(labels) < 2 or not all(labels):
        return None
    return value


def normalize_phone(raw: str, *, region: str | None = None) -> str | None:
    """E.164 if phonenumbers finds the number possible and valid, else None; never raises."""
    try:
        value = _PHONE_SEPARATORS.sub("", to_latin_digits(raw))
        # phonenumbers would turn letters into keypad digits ("0912abc4567") or drop an extension,
        # and either can land two different people on one number.
        if not value or any(char.isalpha() for char in value):
            return None
        if value.startswith("00"):
            value = "+" + value[2:]
        number = phonenumbers.parse(value, (region or _default_region()).upper())
        if not (phonenumbers.is_possible_number(number) and phonenumbers.is_valid_number(number)):
            return None
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    except Exception:
        return None
    # phonenumbers also calls short service numbers valid ("9640" in IR is "+989640"); they are
    # shared lines, not a person, and too short for E.164's 7-digit floor.
    return e164 if _E164.fullmatch(e164) else None


def normalize_identifier(kind: str, raw: object, *, region: str | None = None) -> str | None:
    """Canonical `kind` identifier; None if empty, over 255 chars or junk; never raises."""
    try:
        if raw is None:
            return None
        text = str(raw)
        if "\x00" in text:
            return None  # PostgreSQL cannot store (or even compare with) a NUL character
        text.encode()  # a lone surrogate is not text any database stores: None below
        kind = str(kind).strip().lower()
        if kind == "email":
            value = normalize_email(text)
        elif kind == "phone":
            value = normalize_phone(text, region=region)
        else:
            value = normalize_letters(to_latin_digits(text)).strip()
            if kind in _HANDLE_KINDS:
                value = _HANDLE_PREFIX.sub("", unicodedata.normalize("NFKC", value.lower()))
    except Exception:
        return None
    if not value or len(value) > MAX_IDENTIFIER_LENGTH or is_junk(value):
        return None
    return value


def is_junk(value: str) -> bool:
    """True for empty, configured placeholder (caseless) and one-repeated-digit values; no raise."""
    try:
        normalized = normalize_search_text(value)
        if not normalized:
            return True
        junk = tuple(str(item) for item in getattr(settings, "IDENTITY_JUNK_VALUES", ()))
        if normalized in _normalized_junk(junk):
            return True
        return _is_repeated_digit_number(normalized)
    except Exception:
        return False


@functools.lru_cache(maxsize=4)
def _normalized_junk(junk: tuple[str, ...]) -> frozenset[str]:
    # Keyed by the list itself, so a settings override (tests, reload) is seen at once.
    return frozenset(normalize_search_text(item) for item in junk)


def _is_repeated_digit_number(value: str) -> bool:
    compact = _PHONE_SEPARATORS.sub("", value)
    if not _PHONE_LIKE.fullmatch(compact):
        return False
    international = compact.startswith(("+", "00"))
    digits = compact.lstrip("+")
    if compact.startswith("00"):
        digits = digits[2:]
    candidates = [digits]
    if international:
        # "+980000000000": the national part after a real country code is the placeholder.
        candidates += [
            digits[size:]
            for size in (1, 2, 3)
            if int(digits[:size] or "0") in phonenumbers.COUNTRY_CODE_TO_REGION_CODE
        ]
    elif digits.startswith("0"):
        candidates.append(digits[1:])  # national trunk prefix: "09999999999"
    return any(
        len(candidate) >= _MIN_REPEATED_DIGITS and len(set(candidate)) == 1
        for candidate in candidates
    )


def _default_region() -> str:
    try:
        return str(getattr(settings, "PHONE_DEFAULT_REGION", None) or "IR")
    except ImproperlyConfigured:
        return "IR"
