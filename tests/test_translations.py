import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

LANGUAGES = ["fa", "ar", "az"]

PLURAL_FORMS = {
    "fa": "nplurals=2; plural=(n > 1);",
    "ar": "nplurals=6; plural=n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 "
    ": n%100>=11 && n%100<=99 ? 4 : 5;",
    "az": "nplurals=2; plural=(n != 1);",
}

# n -> plural form index, as each language's Plural-Forms must choose it.
PLURAL_INDEXES = {
    "fa": {0: 0, 1: 0, 2: 1, 5: 1, 100: 1},
    "ar": {0: 0, 1: 1, 2: 2, 3: 3, 10: 3, 11: 4, 99: 4, 100: 5, 102: 5, 103: 3, 111: 4},
    "az": {0: 1, 1: 0, 2: 1, 5: 1, 100: 1},
}

REPRESENTATIVE = {
    "fa": {"Customers": "مشتریان", "interaction": "تعامل", "consent": "رضایت"},
    "ar": {"Customers": "العملاء", "interaction": "تفاعل", "consent": "موافقة"},
    "az": {"Customers": "Müştərilər", "interaction": "qarşılıqlı əlaqə", "consent": "razılıq"},
}

ADMIN_INDEX = {
    "fa": ('dir="rtl"', "مشتریان، کانال\u200cها و کمپین\u200cها"),
    "ar": ('dir="rtl"', "العملاء والقنوات والحملات"),
    "az": ('dir="ltr"', "Müştərilər, kanallar və kampaniyalar"),
}

PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]|\{[a-z_]*\}|</?[a-z]+[^>]*>")


def po_path(lang):
    return Path(settings.LOCALE_PATHS[0]) / lang / "LC_MESSAGES" / "django.po"


def read_po(lang):
    entries, entry, field = [], None, None
    for raw in po_path(lang).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            entry, field = None, None
            continue
        if line.startswith("#"):
            if entry is None:
                entry = {"flags": set(), "msgstr": {}}
                entries.append(entry)
            if line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            continue
        keyword, _, rest = line.partition(" ")
        if keyword.startswith('"'):
            text = ast.literal_eval(line)
        else:
            if entry is None:
                entry = {"flags": set(), "msgstr": {}}
                entries.append(entry)
            field, text = keyword, ast.literal_eval(rest)
        if field.startswith("msgstr["):
            index = int(field[len("msgstr[") : -1])
            entry["msgstr"][index] = entry["msgstr"].get(index, "") + text
        elif field == "msgstr":
            entry["msgstr"][0] = entry["msgstr"].get(0, "") + text
        else:
            entry[field] = entry.get(field, "") + text
    return entries


def header(lang):
    entry = next(e for e in read_po(lang) if e["msgid"] == "")
    lines = entry["msgstr"][0].splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line)


def messages(lang):
    return [e for e in read_po(lang) if e["msgid"] != ""]


def catalog(lang):
    return gettext.translation("django", localedir=settings.LOCALE_PATHS[0], languages=[lang])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_compiled_catalog_loads(lang):
    assert isinstance(catalog(lang), gettext.GNUTranslations)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_header_names_the_language_charset_and_plural_forms(lang):
    fields = header(lang)
    assert fields["Language"] == lang
    assert fields["Language-Team"] not in ("", "LANGUAGE <LL@li.org>")
    assert fields["Content-Type"] == "text/plain; charset=UTF-8"
    assert fields["Plural-Forms"] == PLURAL_FORMS[lang]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_nothing_is_fuzzy_so_nothing_is_skipped_by_the_compiler(lang):
    assert [e["msgid"] for e in read_po(lang) if "fuzzy" in e["flags"]] == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_msgid_has_a_non_empty_translation_with_every_plural_form(lang):
    nplurals = int(PLURAL_FORMS[lang].split(";")[0].split("=")[1])
    entries = messages(lang)
    assert len(entries) > 200
    for entry in entries:
        forms = nplurals if "msgid_plural" in entry else 1
        assert sorted(entry["msgstr"]) == list(range(forms)), entry["msgid"]
        assert all(text.strip() for text in entry["msgstr"].values()), entry["msgid"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_plural_formula_of_the_compiled_catalog_picks_the_right_form(lang):
    plural = catalog(lang).plural
    assert {n: plural(n) for n in PLURAL_INDEXES[lang]} == PLURAL_INDEXES[lang]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_compiled_catalog_holds_exactly_what_the_po_file_says(lang):
    compiled = catalog(lang)
    for entry in messages(lang):
        msgid = entry["msgid"]
        if "msgid_plural" not in entry:
            assert compiled.gettext(msgid) == entry["msgstr"][0], msgid
            continue
        for index, text in entry["msgstr"].items():
            n = next(n for n in range(1000) if compiled.plural(n) == index)
            assert compiled.ngettext(msgid, entry["msgid_plural"], n) == text, (msgid, index)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_placeholders_tags_and_edge_newlines(lang):
    for entry in messages(lang):
        sources = [entry["msgid"], *([entry["msgid_plural"]] if "msgid_plural" in entry else [])]
        allowed = sorted({p for s in sources for p in PLACEHOLDER.findall(s)})
        for text in entry["msgstr"].values():
            found = sorted(PLACEHOLDER.findall(text))
            if "msgid_plural" in entry:
                # A form for exactly one number (Arabic zero, one, two) may spell the number out.
                assert set(found) <= set(allowed), (entry["msgid"], text)
            else:
                assert found == sorted(PLACEHOLDER.findall(entry["msgid"])), entry["msgid"]
            assert text.startswith("\n") == entry["msgid"].startswith("\n"), entry["msgid"]
            assert text.endswith("\n") == entry["msgid"].endswith("\n"), entry["msgid"]


def test_persian_uses_persian_letters_not_arabic_yeh_and_kaf():
    for entry in messages("fa"):
        for text in entry["msgstr"].values():
            assert "\u064a" not in text, text
            assert "\u0643" not in text, text


def test_persian_verb_prefixes_are_joined_with_a_zero_width_non_joiner():
    texts = [text for entry in messages("fa") for text in entry["msgstr"].values()]
    assert any("می\u200cشود" in text for text in texts)
    for text in texts:
        assert " می " not in f" {text} ", text
        assert "می شود" not in text, text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_django_translates_representative_strings(lang):
    with translation.override(lang):
        for msgid, expected in REPRESENTATIVE[lang].items():
            assert translation.gettext(msgid) == expected


@pytest.mark.parametrize(
    ("lang", "count", "expected"),
    [
        ("fa", 1, "1 ادغام لغو شد."),
        ("fa", 3, "3 ادغام لغو شد."),
        ("ar", 1, "تم التراجع عن عملية دمج واحدة."),
        ("ar", 2, "تم التراجع عن عمليتَي دمج."),
        ("ar", 7, "تم التراجع عن 7 عمليات دمج."),
        ("ar", 25, "تم التراجع عن 25 عملية دمج."),
        ("az", 1, "1 birləşdirmə geri alındı."),
        ("az", 4, "4 birləşdirmə geri alındı."),
    ],
)
def test_django_picks_the_plural_form_for_the_count(lang, count, expected):
    with translation.override(lang):
        text = translation.ngettext("Undid %(count)d merge.", "Undid %(count)d merges.", count)
    assert text % {"count": count} == expected


@pytest.mark.django_db
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_admin_index_renders_in_the_language_of_the_cookie(admin_client, lang):
    direction, phrase = ADMIN_INDEX[lang]
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    response = admin_client.get("/admin/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f'lang="{lang}"' in html
    assert direction in html
    assert phrase in html
