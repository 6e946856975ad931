import re

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from customers.identity import (
    is_junk,
    normalize_email,
    normalize_identifier,
    normalize_letters,
    normalize_phone,
    normalize_search_text,
    to_latin_digits,
)

IRAN_MOBILE = "+989123456789"
E164 = re.compile(r"^\+[1-9]\d{6,14}$", re.ASCII)

KINDS = ["email", "phone", "user_id", "anonymous_id", "loyalty_card", "instagram", "telegram"]

# (kind, raw, region, expected); region None means settings.PHONE_DEFAULT_REGION (IR).
NORMALISATION_CASES = [
    # Iranian mobile, every way a storefront or an operator types it.
    ("phone", "09123456789", None, IRAN_MOBILE),
    ("phone", "9123456789", "IR", IRAN_MOBILE),
    ("phone", "+989123456789", None, IRAN_MOBILE),
    ("phone", "00989123456789", None, IRAN_MOBILE),
    ("phone", "0098 912 345 6789", None, IRAN_MOBILE),
    ("phone", "۰۹۱۲۳۴۵۶۷۸۹", None, IRAN_MOBILE),
    ("phone", "۰۹۱۲ ۳۴۵ ۶۷۸۹", None, IRAN_MOBILE),
    ("phone", "٠٩١٢٣٤٥٦٧٨٩", None, IRAN_MOBILE),
    ("phone", "+۹۸۹۱۲۳۴۵۶۷۸۹", None, IRAN_MOBILE),
    ("phone", "٠٠٩٨٩١٢٣٤٥٦٧٨٩", None, IRAN_MOBILE),
    ("phone", "0912-345-6789", None, IRAN_MOBILE),
    ("phone", "(0912) 345 6789", None, IRAN_MOBILE),
    ("phone", "0912.345.6789", None, IRAN_MOBILE),
    ("phone", "\u200f+98 912 345 6789\u200e", None, IRAN_MOBILE),
    ("phone", "\u202a0912\u00a0345\u00a06789\u202c", None, IRAN_MOBILE),
    ("phone", "+989123456789", "US", IRAN_MOBILE),
    ("phone", "021 1234 5678", None, "+982112345678"),
    # Azerbaijan and the UAE.
    ("phone", "+994 50 123 45 67", None, "+994501234567"),
    ("phone", "0501234567", "AZ", "+994501234567"),
    ("phone", "+971 50 123 4567", None, "+971501234567"),
    ("phone", "050 123 4567", "AE", "+971501234567"),
    ("phone", "050 123 4567", "ae", "+971501234567"),
    # Elsewhere.
    ("phone", "+44 7911 123456", None, "+447911123456"),
    ("phone", "07911 123456", "GB", "+447911123456"),
    ("phone", "+1 (201) 555-0123", None, "+12015550123"),
    ("phone", "(201) 555-0123", "US", "+12015550123"),
    ("phone", "+49 151 23456789", None, "+4915123456789"),
    ("phone", "0151 23456789", "DE", "+4915123456789"),
    ("phone", "+90 532 123 45 67", None, "+905321234567"),
    ("phone", "0532 123 45 67", "TR", "+905321234567"),
    # Not phone numbers.
    ("phone", "abc", None, None),
    ("phone", "", None, None),
    ("phone", "   ", None, None),
    ("phone", "123", None, None),
    ("phone", "۹٦40", None, None),  # phonenumbers calls it a valid Iranian service number
    ("phone", "+98 000", None, None),
    ("phone", "0000000000", None, None),
    ("phone", "+980000000000", None, None),
    ("phone", "0912345678", None, None),
    ("phone", "+98912345678901", None, None),
    ("phone", "1" * 300, None, None),
    ("phone", "null", None, None),
    ("phone", "050 123 4567", None, None),
    ("phone", "09123456789", "XX", None),
    ("phone", "0912abc4567", None, None),
    ("phone", "09123456789 ext 12", None, None),
    # Emails.
    ("email", "  Ali.Rezaei@Example.COM ", None, "ali.rezaei@example.com"),
    ("email", "ali۱۲۳@example.com", None, "ali123@example.com"),
    ("email", "shop٢@mail.ir", None, "shop2@mail.ir"),
    ("email", "\u200fali@example.com\u200e", None, "ali@example.com"),
    ("email", "a+tag@sub.example.co.uk", None, "a+tag@sub.example.co.uk"),
    ("email", "ali rezaei@example.com", None, None),
    ("email", "ali@example", None, None),
    ("email", "@example.com", None, None),
    ("email", "ali@", None, None),
    ("email", "ali@.com", None, None),
    ("email", "ali@example..com", None, None),
    ("email", "ali@@example.com", None, None),
    ("email", "ali@b@example.com", None, None),
    ("email", "", None, None),
    ("email", "TEST@Test.com", None, None),
    # Other kinds.
    ("user_id", " 42 ", None, "42"),
    ("user_id", 42, None, "42"),
    ("user_id", "AbC-123", None, "AbC-123"),
    ("user_id", None, None, None),
    ("loyalty_card", "۰۰۱۲۳۴۵", None, "0012345"),
    ("loyalty_card", "٠٠١٢٣٤٥", None, "0012345"),
    ("anonymous_id", "undefined", None, None),
    ("anonymous_id", "  ", None, None),
    ("user_id", "x" * 255, None, "x" * 255),
    ("user_id", "x" * 256, None, None),
    ("instagram", "@Ali_Rezaei", None, "ali_rezaei"),
    ("instagram", "ALI.REZAEI", None, "ali.rezaei"),
    ("telegram", " @@AliR ", None, "alir"),
    ("telegram", "@", None, None),
    ("phone", 9123456789, None, IRAN_MOBILE),
]


@pytest.mark.parametrize(("kind", "raw", "region", "expected"), NORMALISATION_CASES)
def test_identifiers_normalise_to_one_canonical_value(kind, raw, region, expected):
    assert normalize_identifier(kind, raw, region=region) == expected


@pytest.mark.parametrize(
    "expected",
    sorted({expected for kind, _, _, expected in NORMALISATION_CASES if kind == "phone"} - {None}),
)
def test_expected_phones_are_valid_e164_for_phonenumbers(expected):
    number = phonenumbers.parse(expected)
    assert phonenumbers.is_valid_number(number)
    assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == expected


def test_persian_digits_normalise_to_e164():
    assert normalize_phone("۰۹۱۲۳۴۵۶۷۸۹") == IRAN_MOBILE


def test_phone_region_defaults_to_settings(settings):
    settings.PHONE_DEFAULT_REGION = "AE"
    assert normalize_phone("050 123 4567") == "+971501234567"
    assert normalize_phone("09123456789") is None


def test_persian_and_arabic_indic_digits_become_latin():
    assert to_latin_digits("۰۱۲۳۴۵۶۷۸۹ ٠١٢٣٤٥٦٧٨٩ abc") == "0123456789 0123456789 abc"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("علي", "علی"),
        ("مصطفى", "مصطفی"),
        ("كتاب", "کتاب"),
        ("می\u200cخواهم", "میخواهم"),
        ("مُحَمَّد", "محمد"),
        ("رحمٰن", "رحمن"),
        ("ســـلام", "سلام"),
        ("فاطمة", "فاطمة"),
        ("ﻋﻠﻲ", "علی"),
        ("Ａｌｉ", "Ali"),
        ("Ali Rezaei", "Ali Rezaei"),
    ],
)
def test_letters_normalise_to_persian_forms(text, expected):
    assert normalize_letters(text) == expected


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("علي", "علی"),
        ("كاظم", "کاظم"),
        ("می\u200cخواهم", "میخواهم"),
        ("مُحَمَّد رضا", "محمد  رضا"),
        ("ALI   Rezaei", "ali rezaei"),
        ("سفارش ۱۲۳", "سفارش 123"),
        ("سفارش ١٢٣", "سفارش 123"),
        ("\u00a0Straße\t", "STRASSE"),
    ],
)
def test_search_text_matches_across_spellings(left, right):
    assert normalize_search_text(left) == normalize_search_text(right)


def test_search_text_collapses_whitespace():
    assert normalize_search_text("  علی \n\t رضایی  ") == "علی رضایی"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "null",
        "NULL",
        "None",
        "undefined",
        "N/A",
        "-",
        "0",
        "Test@Test.com",
        "0000000000",
        "۰۰۰۰۰۰۰۰۰۰",
        "+980000000000",
        "+98 000 000 0000",
        "00980000000000",
        "09999999999",
        "1111111",
    ],
)
def test_placeholder_values_are_junk(value):
    assert is_junk(value)


@pytest.mark.parametrize(
    "value", ["7", "11", "42", "1001", "ali@example.com", IRAN_MOBILE, "علی", "user-0000"]
)
def test_real_values_are_not_junk(value):
    assert not is_junk(value)


def test_junk_values_come_from_settings(settings):
    settings.IDENTITY_JUNK_VALUES = ["Guest"]
    assert is_junk("GUEST")
    assert normalize_identifier("user_id", "guest") is None
    assert not is_junk("null")


@given(st.text())
def test_no_function_raises_on_any_text(text):
    to_latin_digits(text)
    normalize_letters(text)
    normalize_search_text(text)
    normalize_email(text)
    normalize_phone(text)
    normalize_phone(text, region="AZ")
    is_junk(text)
    for kind in KINDS:
        normalize_identifier(kind, text)


@given(st.text(), st.sampled_from(["IR", "AZ", "AE", "GB", "US", "DE", "TR", "XX", ""]))
def test_phone_is_e164_or_none(text, region):
    result = normalize_phone(text, region=region)
    assert result is None or E164.match(result)


@given(st.text(alphabet="۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩0123456789+ -()", max_size=20))
def test_digit_heavy_phone_is_e164_or_none(text):
    result = normalize_phone(text)
    assert result is None or E164.match(result)


@pytest.mark.parametrize(
    "function",
    [to_latin_digits, normalize_letters, normalize_search_text, normalize_email, normalize_phone],
)
@given(text=st.text())
def test_text_normalisers_are_idempotent(function, text):
    once = function(text)
    if once is not None:
        assert function(once) == once


@given(st.sampled_from(KINDS), st.text())
def test_normalize_identifier_is_idempotent(kind, text):
    once = normalize_identifier(kind, text)
    if once is not None:
        assert normalize_identifier(kind, once) == once
        assert not is_junk(once)
        assert len(once) <= 255


@given(st.text())
def test_email_is_none_or_trimmed_lower_case(text):
    result = normalize_email(text)
    assert result is None or (result == result.lower() and result == result.strip())


@pytest.mark.parametrize("text", ["Ϊ́", "ẞ́", "Άͅ", "I\u0307", "e\u200c\u0301", "ا\u200c\u0654"])
def test_case_folding_and_joiner_removal_stay_idempotent(text):
    once = normalize_search_text(text)
    assert normalize_search_text(once) == once
    handle = normalize_identifier("instagram", text)
    assert handle is None or normalize_identifier("instagram", handle) == handle
