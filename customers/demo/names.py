"""The demo's people: names in their own script, home cities and zones, phone numbers.

Hand-written data and the pure functions that draw a person from it; no database here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# --- Names: (as written, Latin letters for the email address) ----------------------------------

Name = tuple[str, str]

PERSIAN_FIRST: tuple[Name, ...] = (
    ("مریم", "maryam"), ("زهرا", "zahra"), ("فاطمه", "fatemeh"), ("سارا", "sara"),
    ("نرگس", "narges"), ("لیلا", "leila"), ("نگار", "negar"), ("پریسا", "parisa"),
    ("شیرین", "shirin"), ("مهسا", "mahsa"), ("یاسمن", "yasaman"), ("رضا", "reza"),
    ("علی", "ali"), ("محمد", "mohammad"), ("حسین", "hossein"), ("امیر", "amir"),
    ("مهدی", "mehdi"), ("سعید", "saeed"), ("کاوه", "kaveh"), ("بهرام", "bahram"),
    ("پویا", "pouya"), ("آرش", "arash"),
)  # fmt: skip
PERSIAN_LAST: tuple[Name, ...] = (
    ("محمدی", "mohammadi"), ("حسینی", "hosseini"), ("احمدی", "ahmadi"), ("رضایی", "rezaei"),
    ("کریمی", "karimi"), ("موسوی", "mousavi"), ("جعفری", "jafari"), ("صادقی", "sadeghi"),
    ("رحیمی", "rahimi"), ("کاظمی", "kazemi"), ("نوری", "nouri"), ("تهرانی", "tehrani"),
    ("شیرازی", "shirazi"), ("قاسمی", "ghasemi"), ("اکبری", "akbari"), ("یزدانی", "yazdani"),
    ("فرهادی", "farhadi"), ("پاکزاد", "pakzad"),
)  # fmt: skip
ARABIC_FIRST: tuple[Name, ...] = (
    ("أحمد", "ahmed"), ("محمد", "mohammed"), ("علي", "ali"), ("عمر", "omar"),
    ("خالد", "khaled"), ("يوسف", "youssef"), ("إبراهيم", "ibrahim"), ("حسن", "hassan"),
    ("كريم", "karim"), ("فاطمة", "fatima"), ("عائشة", "aisha"), ("مريم", "mariam"),
    ("نور", "noor"), ("ليلى", "layla"), ("سلمى", "salma"), ("هدى", "huda"),
    ("رنا", "rana"), ("زينب", "zainab"),
)  # fmt: skip
ARABIC_LAST: tuple[Name, ...] = (
    ("الهاشمي", "alhashemi"), ("المنصوري", "almansoori"), ("الكعبي", "alkaabi"),
    ("العلي", "alali"), ("النعيمي", "alnuaimi"), ("الشامسي", "alshamsi"),
    ("الظاهري", "aldhaheri"), ("البلوشي", "albalushi"), ("الحمادي", "alhammadi"),
    ("السويدي", "alsuwaidi"), ("القاسمي", "alqasimi"), ("الفلاسي", "alfalasi"),
    ("خوري", "khoury"), ("حداد", "haddad"),
)  # fmt: skip
# Azerbaijani surnames change with gender (Məmmədov / Məmmədova); -li surnames do not.
AZERBAIJANI_FEMALE: tuple[str, ...] = (
    "Aysel", "Leyla", "Nigar", "Günay", "Səbinə", "Aynur", "Ülviyyə", "Nərmin", "Aydan",
)  # fmt: skip
AZERBAIJANI_MALE: tuple[str, ...] = (
    "Elvin", "Rəşad", "Orxan", "Tural", "Kamran", "Elçin", "Fərid", "Rüstəm", "Murad", "Şahin",
    "Cavid",
)  # fmt: skip
AZERBAIJANI_LAST: tuple[tuple[str, str], ...] = (
    ("Məmmədov", "Məmmədova"), ("Əliyev", "Əliyeva"), ("Həsənov", "Həsənova"),
    ("Hüseynov", "Hüseynova"), ("Quliyev", "Quliyeva"), ("Abbasov", "Abbasova"),
    ("İsmayılov", "İsmayılova"), ("Cəfərov", "Cəfərova"), ("Babayev", "Babayeva"),
    ("Nəsirli", "Nəsirli"), ("Əzimli", "Əzimli"),
)  # fmt: skip
ENGLISH_FIRST: tuple[str, ...] = (
    "Emma", "Olivia", "Amelia", "Isla", "Sophie", "Grace", "Charlotte", "Oliver", "George",
    "Harry", "Jack", "James", "Noah", "Thomas", "William", "Daniel",
)  # fmt: skip
ENGLISH_LAST: tuple[str, ...] = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson",
    "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Clarke",
)  # fmt: skip
_AZ_ASCII = str.maketrans(
    {"ə": "e", "ı": "i", "ş": "sh", "ç": "ch", "ğ": "g", "ö": "o", "ü": "u", "İ": "i"}
)

CITIES = {
    "fa": ("تهران", "اصفهان", "شیراز", "مشهد", "تبریز"),
    "ar": ("دبي", "أبوظبي", "الشارقة"),
    "az": ("Bakı", "Gəncə", "Sumqayıt"),
    "en": ("London", "Manchester", "New York"),
}
TIME_ZONES = {"fa": "Asia/Tehran", "ar": "Asia/Dubai", "az": "Asia/Baku", "en": "Europe/London"}
# Mobile prefixes of the sample. The bulk mode uses others (see _bulk_phone), so the two never
# collide: IR 919, AZ 77, AE 58, UK 7911. The stories use IR 937.
SAMPLE_PHONE_PREFIXES = {
    "IR": ("+98912", "+98935", "+98901", "+98936", "+98938"),
    "AZ": ("+99450", "+99451", "+99455", "+99470"),
    "AE": ("+97150", "+97152", "+97154", "+97155", "+97156"),
    "GB": ("+447418", "+447522", "+447723", "+447835", "+447956"),
    "US": ("+1201555", "+1212555", "+1312555", "+1415555", "+1617555"),
}


# --- People -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    email_name: str  # "maryam.mohammadi": Latin letters for an address
    locale: str
    country: str
    time_zone: str
    city: str


def make_person(rng: random.Random, locale: str) -> Person:
    """A plausible person of this language: name in its own script, home country and zone."""
    country = {"fa": "IR", "ar": "AE", "az": "AZ", "en": "GB"}[locale]
    if locale == "fa":
        (first, first_latin), (last, last_latin) = (
            rng.choice(PERSIAN_FIRST),
            rng.choice(PERSIAN_LAST),
        )
    elif locale == "ar":
        (first, first_latin), (last, last_latin) = rng.choice(ARABIC_FIRST), rng.choice(ARABIC_LAST)
    elif locale == "az":
        female = rng.random() < 0.5
        first = rng.choice(AZERBAIJANI_FEMALE if female else AZERBAIJANI_MALE)
        last = rng.choice(AZERBAIJANI_LAST)[1 if female else 0]
        first_latin, last_latin = first.lower().translate(_AZ_ASCII), _az_ascii(last)
    else:
        first, last = rng.choice(ENGLISH_FIRST), rng.choice(ENGLISH_LAST)
        first_latin, last_latin = first.lower(), last.lower()
        if rng.random() < 0.3:
            country = "US"
    cities = CITIES[locale]
    city = "New York" if country == "US" else rng.choice(cities[:-1] if locale == "en" else cities)
    time_zone = "America/New_York" if country == "US" else TIME_ZONES[locale]
    return Person(first, last, f"{first_latin}.{last_latin}", locale, country, time_zone, city)


def _az_ascii(name: str) -> str:
    # "İ".lower() is "i̇" (with a combining dot); fold it before lower-casing.
    return name.replace("İ", "I").replace("Ə", "E").lower().translate(_AZ_ASCII)


def _sample_phone(rng: random.Random, country: str) -> str:
    prefix = rng.choice(SAMPLE_PHONE_PREFIXES[country])
    if country == "US":
        return f"{prefix}01{rng.randrange(100):02d}"
    return f"{prefix}{rng.randrange(10 ** (13 - len(prefix))):0{13 - len(prefix)}d}"


def _bulk_phone(locale: str, n: int) -> str:
    # One fixed prefix per language, numbered: unique for up to 10 million customers each.
    return {
        "fa": f"+98919{n:07d}",
        "az": f"+99477{n:07d}",
        "ar": f"+97158{n:07d}",
        "en": f"+447911{n % 1_000_000:06d}",
    }[locale]
