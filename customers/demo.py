"""Demo and benchmark data: customers in Persian, Arabic, Azerbaijani and English.

``manage.py seed_demo`` calls into this module. The sample (default mode) tells its stories through
the real services (``identify``, ``resolve``, ``record_interaction``), so what the demo shows is
what the product does; the crowd around the stories and the bulk benchmark mode write rows directly
(``COPY`` on PostgreSQL, ``bulk_create`` elsewhere) with the same search text and identities the
services would have written. Every loader is idempotent: it looks for its marker first.

Addresses are safe to use in a demo: emails are on ``example.*`` domains (RFC 2606) and US numbers
are in the fictional 555-01xx range. Other phone numbers are well-formed and may exist; demo
messages go to the console backend unless someone configures a real one.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from customers import consents, services
from customers.models import (
    Consent,
    Customer,
    Identity,
    Interaction,
    MergeSuggestion,
    Source,
)

# --- What the demo consists of -------------------------------------------------------------------


class DemoLogin(NamedTuple):
    """A demo staff account; ``describe_setup --logins`` unpacks (role, username, password)."""

    role: str  # the staff group
    username: str
    password: str

    @property
    def superuser(self) -> bool:
        return self.role == "Administrator"


DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("Support agent", "agent", "agent-demo-pass"),
    DemoLogin("Marketing", "marketer", "marketer-demo-pass"),
    DemoLogin("Administrator", "admin", "admin-demo-pass"),
)

# (name, kind, trusted): the storefronts the demo's events come from.
DEMO_SOURCES: tuple[tuple[str, str, bool], ...] = (
    ("Web shop", Source.Kind.WEB, False),
    ("Mobile app", Source.Kind.APP, False),
    ("Store POS", Source.Kind.POS, False),
    ("Call center", Source.Kind.CALL_CENTER, True),
)
WEB, APP, POS, CALL_CENTER = (name for name, _, _ in DEMO_SOURCES)

# Story (a): registers on the web shop with an email, later phones the call center.
STORY_WEB_THEN_CALL = {
    "anonymous_id": "demo-anon-sara-laptop",
    "user_id": "demo-user-sara",
    "email": "sara.ahmadi@example.com",
    "phone": "+989371234567",
}
# Story (b): browses the web shop anonymously, then logs in on the app.
STORY_ANONYMOUS_THEN_APP = {
    "anonymous_id": "demo-anon-elvin-web",
    "user_id": "demo-user-elvin",
    "email": "elvin.mammadov@example.net",
}
# Story (c): buys in a store with a phone number, later types it on a new device: a suggestion.
STORY_STORE_THEN_WEB = {
    "phone": "+989371112233",
    "loyalty_card": "LC-100234",
    "anonymous_id": "demo-anon-zahra-phone",
}
# The sample is loaded in one transaction, so its first story's account marks all of it.
SAMPLE_MARKER = ("user_id", STORY_WEB_THEN_CALL["user_id"])
SAMPLE_SIZE = 300
BULK_USER_ID_PREFIX = "demo-bulk-"
HOT_CUSTOMER_USER_ID = "demo-hot-customer"
HISTORY_DAYS = 730
CURRENCY = "USD"
DEMO = {"demo": True}  # a trait on every sample customer, so staff can find and delete them

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

# --- The shop: products, pages, messages -----------------------------------------------------

PRODUCTS: tuple[tuple[str, str, str, str], ...] = (
    ("TEA-SAF-250", "Saffron tea, 250 g", "Tea & spices", "14.50"),
    ("SPC-SUM-100", "Sumac, 100 g", "Tea & spices", "4.90"),
    ("RUG-TBZ-120", "Tabriz hand-knotted rug, 120×180", "Home", "890.00"),
    ("SCF-KLG-SLK", "Silk kelaghayi scarf", "Fashion", "59.00"),
    ("DTS-MDJ-1KG", "Medjool dates gift box, 1 kg", "Food", "24.00"),
    ("PST-AKB-500", "Akbari pistachios, 500 g", "Food", "18.75"),
    ("CER-KSH-BWL", "Kashan ceramic bowl", "Home", "42.00"),
    ("OUD-PRF-050", "Oud perfume, 50 ml", "Beauty", "75.00"),
    ("ROS-WTR-250", "Rose water, 250 ml", "Beauty", "6.50"),
    ("EAR-BDS-PRO", "Wireless earbuds Pro", "Electronics", "129.00"),
    ("SHO-RUN-042", "Running shoes", "Fashion", "95.00"),
    ("BOK-HFZ-DVN", "Divan of Hafez, illustrated", "Books", "32.00"),
    ("TEA-GLS-SET", "Armudu tea glass set", "Home", "27.00"),
)
PAGES: tuple[tuple[str, str], ...] = (
    ("/", "Home"),
    ("/c/tea-spices", "Tea & spices"),
    ("/c/home", "Home & living"),
    ("/c/fashion", "Fashion"),
    ("/search?q=saffron", "Search: saffron"),
    ("/blog/nowruz-gift-guide", "Nowruz gift guide"),
    ("/cart", "Cart"),
    ("/account/orders", "My orders"),
)
SCREENS = ("Home", "Category", "Search", "Wishlist", "Cart", "Order Tracking", "Profile")
EMAIL_SUBJECTS = {
    "fa": ("حراج نوروزی: تا ۳۰٪ تخفیف", "سبد خرید شما منتظر است", "سفارش شما ارسال شد"),
    "ar": ("تخفيضات رمضان: حتى 30٪", "سلة التسوق بانتظارك", "تم شحن طلبك"),
    "az": ("Novruz endirimləri: 30%-dək", "Səbətiniz sizi gözləyir", "Sifarişiniz göndərildi"),
    "en": (
        "Spring sale: up to 30% off",
        "You left something in your cart",
        "Your order is on its way",
    ),
}
SMS_TEXTS = {
    "fa": ("کد تخفیف ۱۵٪ سفارش بعدی: NOWRUZ15", "سفارش شما تحویل پست شد"),
    "ar": ("خصم 15٪ على طلبك القادم: RAMADAN15", "تم تسليم طلبك"),
    "az": ("Növbəti sifarişinizə 15% endirim: NOVRUZ15", "Sifarişiniz çatdırıldı"),
    "en": ("15% off your next order: SPRING15", "Your parcel was delivered"),
}
CALLS = {
    "fa": (
        "پیگیری ارسال سفارش؛ کد رهگیری پیامک شد",
        "درخواست تعویض سایز کفش",
        "سؤال درباره گارانتی هدفون",
        "شکایت از تأخیر در ارسال؛ ۱۰٪ تخفیف داده شد",
    ),
    "ar": (
        "استفسار عن موعد توصيل الطلب",
        "طلب استبدال المقاس",
        "سؤال عن ضمان السماعات",
        "شكوى من تأخر الشحن؛ تم منح خصم 10٪",
    ),
    "az": (
        "Sifarişin çatdırılma vaxtı ilə bağlı zəng",
        "Ayaqqabının ölçüsünü dəyişmək istəyir",
        "Qulaqlıqların zəmanəti barədə sual",
        "Gecikmə şikayəti; 10% endirim verildi",
    ),
    "en": (
        "Asked when the order will arrive",
        "Wants to exchange the running shoes for a larger size",
        "Question about the earbuds warranty",
        "Complained about a late delivery; gave 10% off",
    ),
}
CHATS = {
    "fa": ("پرسید فرش تبریز در شعبه تجریش موجود است؟", "درخواست فاکتور رسمی"),
    "ar": ("سأل عن توفر عطر العود في دبي مول", "طلب فاتورة ضريبية"),
    "az": ("Kəlağayının Bakıdakı mağazada olub-olmadığını soruşdu", "Rəsmi qaimə istədi"),
    "en": ("Asked if the Tabriz rug is in stock in London", "Requested a VAT invoice"),
}
NOTES = {
    "fa": ("ترجیح می‌دهد بعد از ساعت ۱۷ با او تماس بگیریم", "مشتری وفادار؛ هدیه نوروزی ارسال شود"),
    "ar": ("يفضّل التواصل عبر واتساب", "عميل مميز؛ إرسال هدية رمضان"),
    "az": (
        "Axşam saatlarında zəng edilməsini xahiş edir",
        "Sadiq müştəri; Novruz hədiyyəsi göndərilsin",
    ),
    "en": ("Prefers to be contacted by email", "VIP customer: send a birthday voucher"),
}
STORES = {
    "fa": "تهران، شعبه تجریش",
    "ar": "دبي مول",
    "az": "Bakı, 28 Mall",
    "en": "London, Oxford Street",
}
CHAT_CHANNELS = {"fa": "telegram", "ar": "whatsapp", "az": "whatsapp", "en": "chat"}
CONSENT_WORDING = {
    ("fa", "email"): "مایلم پیشنهادها و اخبار فروشگاه را با ایمیل دریافت کنم.",
    ("fa", "phone"): "مایلم پیشنهادها را با پیامک دریافت کنم.",
    ("ar", "email"): "أرغب في تلقي العروض والأخبار عبر البريد الإلكتروني.",
    ("ar", "phone"): "أرغب في تلقي العروض عبر الرسائل النصية.",
    ("az", "email"): "Təklifləri və xəbərləri e-poçtla almaq istəyirəm.",
    ("az", "phone"): "Təklifləri SMS ilə almaq istəyirəm.",
    ("en", "email"): "Send me offers and news by email.",
    ("en", "phone"): "Send me offers by SMS.",
}
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 Chrome/126.0 Mobile",
)
LANGUAGE_TAGS = {"fa": "fa-IR", "ar": "ar-AE", "az": "az-AZ", "en": "en-GB"}


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


# --- Timeline templates ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Template:
    """One kind of timeline row; JSON columns are kept as JSON text, ready for COPY."""

    channel: str
    type: str
    direction: str
    name: str
    summary: str
    properties: str
    context: str
    source: str | None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _context(rng: random.Random, channel: str, locale: str) -> str:
    tag = LANGUAGE_TAGS[locale]
    if channel == "web":
        ip = f"203.0.113.{rng.randrange(1, 255)}"  # TEST-NET-3
        return _dumps({"ip": ip, "locale": tag, "userAgent": rng.choice(USER_AGENTS)})
    if channel == "app":
        os_name = rng.choice(("iOS", "Android"))
        return _dumps({"app": {"name": "Demo Shop", "version": "3.4.1"}, "os": {"name": os_name}})
    return _dumps({"locale": tag}) if channel in ("store", "phone") else "{}"


def _product(sku: str, name: str, category: str, price: str) -> dict[str, Any]:
    return {
        "product_id": sku,
        "sku": sku,
        "name": name,
        "category": category,
        "price": float(price),
        "currency": CURRENCY,
    }


SOURCE_OF_CHANNEL = {"web": WEB, "app": APP, "store": POS, "phone": CALL_CENTER}
DIRECTION_OF_TYPE = {"message": "out", "note": "internal"}
# (weight, channel, type, name, summary, properties)
Spec = tuple[int, str, str, str, str, dict[str, Any]]


def build_pool(rng: random.Random, locale: str) -> list[Template]:
    """Weighted templates for one language: picking uniformly gives a realistic channel mix."""
    specs: list[Spec] = []
    for path, title in PAGES:
        url = f"https://shop.example.com/{locale}{path}"
        specs.append((3, "web", "page", title, title, {"path": path, "title": title, "url": url}))
    specs += [(2, "app", "screen", screen, screen, {"name": screen}) for screen in SCREENS]
    for item in PRODUCTS:
        product, name = _product(*item), item[1]
        specs.append((2, "web", "page", name, name, {"path": f"/p/{item[0]}", "title": name}))
        specs.append((2, "app", "screen", "Product Detail", f"Product Detail: {name}", product))
        for channel in ("web", "app"):
            specs.append(
                (2, channel, "track", "Product Viewed", f"Product Viewed: {name}", product)
            )
            added = {**product, "quantity": 1}
            specs.append((1, channel, "track", "Product Added", f"Product Added: {name}", added))
    for channel in ("web", "app"):
        specs.append((1, channel, "track", "Checkout Started", "Checkout Started", {}))
    campaigns = ("spring-sale", "abandoned-cart", "order-shipped")
    for campaign, subject in zip(campaigns, EMAIL_SUBJECTS[locale], strict=True):
        for status in ("delivered", "opened", "clicked", "bounced"):
            props = {"subject": subject, "campaign": campaign, "status": status}
            specs.append(
                (1 if status == "bounced" else 2, "email", "message", "Email Sent", subject, props)
            )
    for text in SMS_TEXTS[locale]:
        specs.append((2, "sms", "message", "SMS Sent", text, {"text": text, "status": "delivered"}))
    for i, summary in enumerate(CALLS[locale]):
        props = {"duration_seconds": 90 + 60 * i, "outcome": "resolved"}
        specs.append((1, "phone", "call", "Inbound call", summary, props))
    for summary in CHATS[locale]:
        specs.append((1, CHAT_CHANNELS[locale], "chat", "Chat", summary, {"messages": 6}))
    store = STORES[locale]
    specs.append((2, "store", "visit", "Store Visit", f"Store visit: {store}", {"store": store}))
    specs += [(1, "other", "note", "Note", summary, {}) for summary in NOTES[locale]]
    return [
        Template(
            channel=channel,
            type=type_,
            direction=DIRECTION_OF_TYPE.get(type_, "in"),
            name=name,
            summary=summary[:500],
            properties=_dumps(props),
            context=_context(rng, channel, locale),
            source=SOURCE_OF_CHANNEL.get(channel),
        )
        for weight, channel, type_, name, summary, props in specs
        for _ in range(weight)
    ]


# --- Planning customers -----------------------------------------------------------------------


@dataclass(slots=True)
class Planned:
    """One customer to write: its row, identities, and when its timeline rows happened."""

    person: Person
    public_id: uuid.UUID
    stage: str
    traits: dict[str, Any]
    identities: list[tuple[str, str, bool, str | None]]  # kind, value, verified, source
    times: list[float]  # epoch seconds; the first len(orders) belong to the orders
    orders: list[tuple[str, Decimal, str]] = field(default_factory=list)  # channel, total, json
    consents: list[tuple[str | None, str, str]] = field(default_factory=list)

    @property
    def first_seen(self) -> datetime | None:
        return _at(min(self.times)) if self.times else None

    @property
    def last_seen(self) -> datetime | None:
        return _at(max(self.times)) if self.times else None


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _times(rng: random.Random, now: float, count: int) -> list[float]:
    """``count`` moments in one customer's history, within the last two years."""
    horizon = HISTORY_DAYS * 86400
    last = now - min(rng.expovariate(1 / (30 * 86400)), horizon * 0.9)
    first = last - rng.uniform(0.05, 1.0) * (horizon - (now - last))
    return [first + rng.random() * (last - first) for _ in range(count)]


def _orders(rng: random.Random, count: int, order_prefix: str) -> list[tuple[str, Decimal, str]]:
    orders = []
    for n in range(count):
        lines = []
        for sku, name, category, price in rng.sample(PRODUCTS, rng.choice((1, 1, 2, 3))):
            lines.append(
                {**_product(sku, name, category, price), "quantity": rng.choice((1, 1, 2))}
            )
        total = sum(Decimal(str(line["price"])) * line["quantity"] for line in lines)
        order_id = f"{order_prefix}-{n + 1}"
        props = {
            "order_id": order_id,
            "total": float(total),
            "revenue": float(total),
            "currency": CURRENCY,
            "products": lines,
        }
        orders.append((rng.choice(("web", "web", "app", "store")), total, _dumps(props)))
    return orders


def _stage(rng: random.Random, orders: int) -> str:
    if orders == 0:
        return rng.choice((Customer.Stage.AWARENESS, Customer.Stage.CONSIDERATION))
    if orders == 1:
        return Customer.Stage.PURCHASE
    return Customer.Stage.ADVOCACY if rng.random() < 0.2 else Customer.Stage.RETENTION


def plan_sample(rng: random.Random, *, size: int, now: float) -> list[Planned]:
    """The crowd around the stories: varied identities, histories and consents."""
    used: set[str] = {STORY_WEB_THEN_CALL["phone"], STORY_STORE_THEN_WEB["phone"]}
    planned = []
    for i in range(size):
        person = make_person(rng, ("fa", "ar", "az", "en", "fa")[i % 5])
        identities: list[tuple[str, str, bool, str | None]] = []
        if rng.random() < 0.75:
            identities.append(("user_id", f"demo-user-{i + 1:05d}", False, WEB))
        for _ in range(rng.choice((1, 1, 2, 3))):
            identities.append(("anonymous_id", str(_uuid(rng)), False, rng.choice((WEB, APP))))
        if rng.random() < 0.85:
            email = _unique(used, _sample_email, rng, person)
            identities.append(("email", email, rng.random() < 0.6, WEB))
        if rng.random() < 0.8:
            phone = _unique(used, _sample_phone, rng, person.country)
            identities.append(("phone", phone, rng.random() < 0.4, rng.choice((WEB, POS))))
        if rng.random() < 0.2:
            identities.append(("loyalty_card", f"LC-{200000 + i}", True, POS))
        if rng.random() < 0.1:
            kind = "telegram" if person.locale == "fa" else "instagram"
            identities.append((kind, person.email_name.replace(".", "_"), False, None))
        order_count = min(rng.choice((0, 0, 0, 1, 1, 2, 3, 5)), 4)
        times = _times(rng, now, order_count + rng.randint(4, 36))
        traits: dict[str, Any] = {"demo": True, "city": person.city}
        if rng.random() < 0.3:
            traits["birthday"] = f"{rng.randint(1965, 2004)}-{rng.randint(1, 12):02d}-15"
        plan = Planned(
            person=person,
            public_id=_uuid(rng),
            stage=_stage(rng, order_count),
            traits=traits,
            identities=identities,
            times=times,
            orders=_orders(rng, order_count, f"D{i + 1:05d}"),
        )
        plan.consents = _consents(rng, plan)
        planned.append(plan)
    return planned


def _sample_email(rng: random.Random, person: Person) -> str:
    first, last = person.email_name.split(".")
    local = rng.choice((f"{first}.{last}", f"{first}{last}", f"{first[0]}.{last}"))
    if rng.random() < 0.4:
        local += str(rng.randint(70, 99))
    return f"{local}@{rng.choice(('example.com', 'example.org', 'example.net'))}"


def _unique(used: set[str], make: Callable[..., str], *args: Any) -> str:
    value = make(*args)
    while value in used:
        value = make(*args)
    used.add(value)
    return value


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _consents(rng: random.Random, plan: Planned) -> list[tuple[str | None, str, str]]:
    """(address kind or None for customer-wide, purpose, status): some granted, some withdrawn."""
    result: list[tuple[str | None, str, str]] = []
    kinds = {kind for kind, *_ in plan.identities}
    for kind, granted in (("email", 0.6), ("phone", 0.4)):
        if kind not in kinds:
            continue
        roll = rng.random()
        if roll < granted:
            result.append((kind, Consent.Purpose.MARKETING, Consent.Status.GRANTED))
        elif roll < granted + 0.15:
            result.append((kind, Consent.Purpose.MARKETING, Consent.Status.WITHDRAWN))
        elif roll < granted + 0.2:
            result.append((kind, Consent.Purpose.MARKETING, Consent.Status.PENDING))
        if kind == "email" and rng.random() < 0.3:
            result.append((kind, Consent.Purpose.TRANSACTIONAL, Consent.Status.GRANTED))
    if rng.random() < 0.05:
        result.append((None, Consent.Purpose.MARKETING, Consent.Status.WITHDRAWN))
    return result


def plan_bulk(
    rng: random.Random,
    *,
    start: int,
    count: int,
    per_customer: int,
    now: float,
    user_id: Callable[[int], str] | None = None,
) -> list[Planned]:
    """Benchmark customers ``start`` .. ``start + count - 1``; identifiers derive from the index."""
    planned = []
    for i in range(start, start + count):
        locale = ("fa", "ar", "az", "en")[i % 4]
        person = make_person(rng, locale)
        if person.country == "US":  # bulk phones are numbered in one UK range
            person = Person(
                person.first_name,
                person.last_name,
                person.email_name,
                locale,
                "GB",
                TIME_ZONES["en"],
                "London",
            )
        order_count = min(max(per_customer // 4, 0), rng.choice((0, 0, 1, 1, 2, 3)))
        if per_customer >= 1000:
            order_count = per_customer // 50
        identities: list[tuple[str, str, bool, str | None]] = [
            ("user_id", user_id(i) if user_id else f"{BULK_USER_ID_PREFIX}{i:08d}", False, WEB),
            ("anonymous_id", str(_uuid(rng)), False, WEB),
            ("email", f"{person.email_name}.{i}@example.com", False, WEB),
            ("phone", _bulk_phone(locale, i // 4), False, WEB),
        ]
        planned.append(
            Planned(
                person=person,
                public_id=_uuid(rng),
                stage=_stage(rng, order_count),
                traits={"demo": "bulk", "city": person.city},  # "bulk": not the sample
                identities=identities,
                times=_times(rng, now, per_customer),
                orders=_orders(rng, order_count, f"B{i:08d}"),
            )
        )
    return planned


# --- Writing rows -----------------------------------------------------------------------------

CUSTOMER_COLUMNS = (
    "public_id", "first_name", "last_name", "locale", "time_zone", "stage", "traits",
    "search_text", "first_seen_at", "last_seen_at", "order_count", "total_spent",
    "first_order_at", "last_order_at", "created_at", "updated_at",
)  # fmt: skip
IDENTITY_COLUMNS = ("customer_id", "kind", "value", "verified", "source_id", "created_at")
INTERACTION_COLUMNS = (
    "customer_id", "source_id", "channel", "type", "direction", "name", "summary", "occurred_at",
    "received_at", "properties", "context", "agent_id", "message_id",
)  # fmt: skip
JSON_COLUMNS = {"traits", "properties", "context"}


def customer_row(plan: Planned, now: datetime, *, orders: bool = True) -> tuple[Any, ...]:
    """The customer's columns (CUSTOMER_COLUMNS); search text as the services compute it.
    ``orders=False`` leaves the order totals at zero for the commerce reactor to fill in."""
    person = plan.person
    # Sorted by kind, as refresh_search_text reads them, so both write the same text.
    searchable = sorted(
        ((kind, value) for kind, value, *_ in plan.identities if kind != "anonymous_id"),
        key=lambda pair: pair[0],
    )
    placed = plan.orders if orders else []
    order_times = [_at(t) for t in plan.times[: len(placed)]]
    first_seen = plan.first_seen
    return (
        plan.public_id,
        person.first_name,
        person.last_name,
        person.locale,
        person.time_zone,
        plan.stage,
        _dumps(plan.traits),
        services.search_text_for(person.first_name, person.last_name, searchable),
        first_seen or now,  # a profile is seen when it is made, even with no history
        plan.last_seen or now,
        len(placed),
        sum((total for _, total, _ in placed), Decimal("0.00")),
        min(order_times, default=None),
        max(order_times, default=None),
        first_seen or now,
        now,
    )


def identity_rows(customer_id: int, plan: Planned, sources: dict[str, int]) -> Iterator[tuple]:
    created = plan.first_seen or timezone.now()
    for kind, value, verified, source in plan.identities:
        yield customer_id, kind, value, verified, sources.get(source or ""), created


def interaction_rows(
    customer_id: int,
    plan: Planned,
    pool: Sequence[Template],
    sources: dict[str, int],
    rng: random.Random,
    *,
    agent_id: int | None = None,
    orders: bool = True,
) -> Iterator[tuple]:
    """The customer's timeline rows (INTERACTION_COLUMNS): its orders (unless ``orders=False``:
    see record_orders), then picks from the pool."""
    n_orders = len(plan.orders)
    source_of = {"web": sources[WEB], "app": sources[APP], "store": sources[POS]}
    for ts, (channel, total, props) in zip(plan.times, plan.orders if orders else [], strict=False):
        when = _at(ts)
        summary = f"Order Completed: {total} {CURRENCY}"
        yield (
            customer_id,
            source_of[channel],
            channel,
            "track",
            "in",
            "Order Completed",
            summary,
            when,
            when,
            props,
            "{}",
            None,
            "",
        )
    size = len(pool)
    pick = rng.random
    for ts in plan.times[n_orders:]:
        t = pool[int(pick() * size)]
        when = _at(ts)
        agent = agent_id if t.type in ("call", "note") else None
        yield (
            customer_id,
            sources.get(t.source) if t.source else None,
            t.channel,
            t.type,
            t.direction,
            t.name,
            t.summary,
            when,
            when,
            t.properties,
            t.context,
            agent,
            "",
        )


class RowWriter:
    """Writes planned rows: COPY on PostgreSQL, ``bulk_create(batch_size=2000)`` elsewhere."""

    def __init__(self) -> None:
        self.copy = connection.vendor == "postgresql"
        self._json_cache: dict[str, Any] = {}

    def customers(self, rows: Sequence[tuple[Any, ...]]) -> list[int]:
        """Insert customers; their new primary keys, in order."""
        if not rows:
            return []
        if self.copy:
            with connection.cursor() as cursor:
                table = Customer._meta.db_table
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [table, len(rows)],
                )
                ids = [pk for (pk,) in cursor.fetchall()]
            self._copy(
                Customer,
                ("id", *CUSTOMER_COLUMNS),
                ((pk, *row) for pk, row in zip(ids, rows, strict=True)),
            )
            return ids
        objs = Customer.objects.bulk_create(
            [Customer(**self._fields(CUSTOMER_COLUMNS, row)) for row in rows], batch_size=2000
        )
        return [obj.pk for obj in objs]

    def rows(self, model: type[models.Model], columns: Sequence[str], rows: Iterable[tuple]) -> int:
        """Insert rows of ``model`` given in ``columns`` order; how many were written."""
        if self.copy:
            return self._copy(model, columns, rows)
        written, batch = 0, []
        for row in rows:
            batch.append(model(**self._fields(columns, row)))
            if len(batch) == 2000:
                written += len(model._default_manager.bulk_create(batch))
                batch = []
        if batch:
            written += len(model._default_manager.bulk_create(batch))
        return written

    def _fields(self, columns: Sequence[str], row: tuple[Any, ...]) -> dict[str, Any]:
        values = dict(zip(columns, row, strict=True))
        for name in JSON_COLUMNS.intersection(values):
            text = values[name]
            if text not in self._json_cache:
                self._json_cache[text] = json.loads(text)
            values[name] = self._json_cache[text]
        return values

    def _copy(
        self, model: type[models.Model], columns: Sequence[str], rows: Iterable[tuple]
    ) -> int:
        quote = connection.ops.quote_name
        attnames = {f.attname: f.column for f in model._meta.concrete_fields}
        sql = "COPY {} ({}) FROM STDIN".format(
            quote(model._meta.db_table), ", ".join(quote(attnames[c]) for c in columns)
        )
        written = 0
        with connection.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
                written += 1
        return written


# --- Sources and logins -------------------------------------------------------------------


def ensure_sources() -> dict[str, Source]:
    """The demo storefronts by name; existing rows are kept as staff left them."""
    sources = {}
    for name, kind, trusted in DEMO_SOURCES:
        defaults = {"kind": kind, "trusted": trusted}
        sources[name], _ = Source.objects.get_or_create(name=name, defaults=defaults)
    return sources


@dataclass(frozen=True)
class LoginResult:
    login: DemoLogin
    created: bool


def ensure_logins() -> list[LoginResult]:
    """Create the demo staff accounts that are missing; never touches an existing account's
    password (a real "admin" may exist). Idempotent."""
    user_model = get_user_model()
    results = []
    for login in DEMO_LOGINS:
        group, _ = Group.objects.get_or_create(name=login.role)
        user = user_model._default_manager.filter(username=login.username).first()
        created = user is None
        if user is None:
            user = user_model(
                username=login.username,
                is_staff=True,
                is_superuser=login.superuser,
                email=f"{login.username}@example.com",
            )
            user.set_password(login.password)
            user.save()
            user.groups.add(group)
        results.append(LoginResult(login, created))
    return results


def _demo_agent() -> AbstractBaseUser | None:
    return get_user_model()._default_manager.filter(username=DEMO_LOGINS[0].username).first()


# --- The sample (default mode) -----------------------------------------------------------------


@dataclass
class SampleReport:
    loaded: bool = False  # False: it was there already
    interactions: int = 0
    suggestions: int = 0
    stories: dict[str, int] = field(default_factory=dict)  # story name -> customer pk


def sample_loaded() -> bool:
    """True once the demo sample is in the database (it is loaded all or nothing)."""
    kind, value = SAMPLE_MARKER
    return Identity.objects.filter(kind=kind, value=value).exists()


def load_sample(
    *, size: int = SAMPLE_SIZE, seed: int = 1, now: datetime | None = None
) -> SampleReport:
    """Load the stories and ``size`` more customers, all or nothing; does nothing if loaded."""
    report = SampleReport()
    if sample_loaded():
        return report
    now = now or timezone.now()
    rng = random.Random(f"demo-sample:{seed}")
    with transaction.atomic():
        sources = ensure_sources()
        agent = _demo_agent()
        report.loaded = True
        report.stories = tell_stories(sources, now=now, agent=agent)
        planned = plan_sample(rng, size=size, now=now.timestamp())
        source_ids = {name: source.pk for name, source in sources.items()}
        writer = RowWriter()
        ids = writer.customers([customer_row(plan, now, orders=False) for plan in planned])
        writer.rows(
            Identity,
            IDENTITY_COLUMNS,
            (
                row
                for pk, plan in zip(ids, planned, strict=True)
                for row in identity_rows(pk, plan, source_ids)
            ),
        )
        pools = {locale: build_pool(rng, locale) for locale in TIME_ZONES}
        agent_id = agent.pk if agent else None
        report.interactions = writer.rows(
            Interaction,
            INTERACTION_COLUMNS,
            (
                row
                for pk, plan in zip(ids, planned, strict=True)
                for row in interaction_rows(
                    pk,
                    plan,
                    pools[plan.person.locale],
                    source_ids,
                    rng,
                    agent_id=agent_id,
                    orders=False,
                )
            ),
        )
        report.interactions += record_orders(ids, planned, sources)
        _write_consents(ids, planned, sources, now)
        report.suggestions = _suggest_duplicates(rng, planned, sources, now)
    return report


def record_orders(
    ids: Sequence[int], planned: Sequence[Planned], sources: dict[str, Source]
) -> int:
    """Record the sample's orders through the event log, so the commerce reactor (if any) makes
    real orders and order totals from them, as it would for a storefront's events."""
    customers = Customer.objects.in_bulk(ids)
    source_of = {"web": sources[WEB], "app": sources[APP], "store": sources[POS]}
    recorded = 0
    for pk, plan in zip(ids, planned, strict=True):
        for ts, (channel, _total, props) in zip(plan.times, plan.orders, strict=False):
            services.record_interaction(
                customer=customers[pk],
                type="track",
                channel=channel,
                occurred_at=_at(ts),
                source=source_of[channel],
                name="Order Completed",
                properties=json.loads(props),
            )
            recorded += 1
    return recorded


def _write_consents(
    ids: Sequence[int], planned: Sequence[Planned], sources: dict[str, Source], now: datetime
) -> None:
    addresses = {
        (customer_id, kind): pk
        for pk, customer_id, kind in Identity.objects.filter(
            customer_id__in=ids, kind__in=("email", "phone")
        ).values_list("pk", "customer_id", "kind")
    }
    consents = []
    for customer_id, plan in zip(ids, planned, strict=True):
        for kind, purpose, status in plan.consents:
            first, last = plan.first_seen or now, plan.last_seen or now
            at = first + (last - first) / 3
            proof: dict[str, Any] = {"form": "checkout", "ip": "203.0.113.7", "at": at.isoformat()}
            updated = at
            if status == Consent.Status.WITHDRAWN:
                updated = last
                proof["withdrawn"] = {"via": "unsubscribe_link", "at": updated.isoformat()}
            consents.append(
                Consent(
                    customer_id=customer_id,
                    identity_id=addresses.get((customer_id, kind)) if kind else None,
                    purpose=purpose,
                    status=status,
                    source=sources[WEB],
                    wording=CONSENT_WORDING[(plan.person.locale, kind or "email")],
                    proof=proof,
                    created_at=at,
                    updated_at=updated,
                )
            )
    Consent.objects.bulk_create(consents, batch_size=2000)


def _suggest_duplicates(
    rng: random.Random, planned: Sequence[Planned], sources: dict[str, Source], now: datetime
) -> int:
    """A few people type a known email on a new device: the app may not merge that by itself,
    so each becomes a second profile with an open merge suggestion for an agent."""
    with_email = [
        (plan, value) for plan in planned for kind, value, *_ in plan.identities if kind == "email"
    ]
    for plan, email in with_email[:: max(len(with_email) // 3, 1)][:3]:
        person = plan.person
        duplicate = services.identify(
            {"anonymous_id": str(_uuid(rng)), "email": email},
            traits=_traits(person),
            source=sources[APP],
        )
        services.record_interaction(
            customer=duplicate,
            type="screen",
            channel="app",
            source=sources[APP],
            name="Checkout",
            occurred_at=now - timedelta(hours=rng.randint(2, 72)),
        )
    return min(len(with_email), 3)


def _traits(person: Person) -> dict[str, Any]:
    return {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "locale": person.locale,
        "timezone": person.time_zone,
        "city": person.city,
        "demo": True,
    }


# (days ago, type, channel, name, summary, properties): one story's events, oldest first.
Event = tuple[float, str, str, str, str, dict[str, Any]]


def _replay(
    customer: Customer,
    story: str,
    events: Sequence[Event],
    *,
    sources: dict[str, Source],
    now: datetime,
    agent: AbstractBaseUser | None,
) -> None:
    for n, (days_ago, type_, channel, name, summary, props) in enumerate(events, start=1):
        source = SOURCE_OF_CHANNEL.get(channel)
        services.record_interaction(
            customer=customer,
            type=type_,
            channel=channel,
            occurred_at=now - timedelta(days=days_ago),
            source=sources[source] if source else None,
            name=name,
            summary=summary,
            direction=DIRECTION_OF_TYPE.get(type_, "in"),
            properties=props,
            agent=agent if type_ in ("call", "note") else None,
            message_id=f"demo-story-{story}-{n}",
        )


def _order(order_id: str, *lines: tuple[tuple[str, str, str, str], int]) -> dict[str, Any]:
    products = [{**_product(*item), "quantity": quantity} for item, quantity in lines]
    total = float(sum(Decimal(item[3]) * quantity for item, quantity in lines))
    return {"order_id": order_id, "total": total, "revenue": total, "currency": CURRENCY,
            "products": products}  # fmt: skip


def tell_stories(
    sources: dict[str, Source], *, now: datetime, agent: AbstractBaseUser | None = None
) -> dict[str, int]:
    """The cross-channel journeys, told through the real services; story -> customer pk."""
    web, app, pos, call_center = (sources[name] for name in (WEB, APP, POS, CALL_CENTER))
    replay = partial(_replay, sources=sources, now=now, agent=agent)
    saffron, rug, scarf = PRODUCTS[0], PRODUCTS[2], PRODUCTS[3]

    # (a) Sara browses, registers with her email and buys; weeks later she phones the call
    # center, which finds her by that email and adds the number she calls from.
    ids = STORY_WEB_THEN_CALL
    sara = services.identify({"anonymous_id": ids["anonymous_id"]}, traits=DEMO, source=web)
    replay(sara, "sara-browse", [
        (46, "page", "web", "Home", "", {"path": "/", "title": "Home"}),
        (45.9, "track", "web", "Product Viewed", "", _product(*saffron)),
    ])  # fmt: skip
    sara = services.identify(
        {kind: ids[kind] for kind in ("anonymous_id", "user_id", "email")},
        traits={
            "first_name": "سارا",
            "last_name": "احمدی",
            "locale": "fa",
            "timezone": "Asia/Tehran",
            "city": "تهران",
            **DEMO,
        },
        source=web,
    )
    replay(sara, "sara-register", [
        (45, "identify", "web", "Signed Up", "Registered on the web shop with her email",
         {"method": "email"}),
        (44.9, "track", "web", "Product Added", "", {**_product(*saffron), "quantity": 2}),
        (44.8, "track", "web", "Order Completed", "", _order("D-1001", (saffron, 2))),
        (44, "message", "email", "Email Sent", EMAIL_SUBJECTS["fa"][2],
         {"subject": EMAIL_SUBJECTS["fa"][2], "status": "opened"}),
    ])  # fmt: skip
    consents.set_consent(
        sara,
        channel="email",
        purpose=Consent.Purpose.MARKETING,
        status=Consent.Status.GRANTED,
        source=web,
        wording=CONSENT_WORDING[("fa", "email")],
        proof={"form": "signup", "ip": "203.0.113.45"},
    )
    # The call-center tool sends the caller's number as the agent typed it, Persian digits.
    caller = services.resolve(
        {"phone": "۰۹۳۷ ۱۲۳ ۴۵۶۷", "email": " Sara.Ahmadi@Example.com "}, source=call_center
    )
    replay(caller, "sara-call", [
        (3, "call", "phone", "Inbound call", CALLS["fa"][0],
         {"duration_seconds": 240, "outcome": "resolved", "order_id": "D-1001"}),
        (2.9, "message", "sms", "SMS Sent", "کد رهگیری مرسوله: 1234567890",
         {"status": "delivered"}),
    ])  # fmt: skip
    consents.set_consent(
        caller,
        channel="sms",
        purpose=Consent.Purpose.MARKETING,
        status=Consent.Status.WITHDRAWN,
        source=call_center,
        wording=CONSENT_WORDING[("fa", "phone")],
        proof={"via": "phone call", "agent": agent.get_username() if agent else ""},
    )

    # (b) Elvin browses the web shop without logging in, then logs in on the app, which sends
    # that anonymous id with his account id: one profile with both halves of the history.
    ids = STORY_ANONYMOUS_THEN_APP
    visitor = services.identify({"anonymous_id": ids["anonymous_id"]}, traits=DEMO, source=web)
    replay(visitor, "elvin-browse", [
        (12, "page", "web", "Fashion", "", {"path": "/c/fashion", "title": "Fashion"}),
        (11.9, "track", "web", "Product Viewed", "", _product(*scarf)),
        (11.8, "track", "web", "Product Added", "", {**_product(*scarf), "quantity": 1}),
    ])  # fmt: skip
    elvin = services.identify(
        dict(ids),
        traits={
            "first_name": "Elvin",
            "last_name": "Məmmədov",
            "locale": "az",
            "timezone": "Asia/Baku",
            "city": "Bakı",
            **DEMO,
        },
        source=app,
    )
    replay(elvin, "elvin-app", [
        (10, "identify", "app", "Logged In", "Logged in on the mobile app", {}),
        (9.9, "screen", "app", "Cart", "", {"name": "Cart"}),
        (9.8, "track", "app", "Order Completed", "", _order("D-1002", (scarf, 1))),
        (2, "chat", "whatsapp", "Chat", "Kəlağayının Gəncəyə çatdırılma müddəti ilə maraqlandı",
         {"messages": 4}),
    ])  # fmt: skip

    # (c) Zahra buys in a store giving her phone and loyalty card; later she types that phone at
    # the web checkout on a new device. An untrusted match: an open merge suggestion.
    ids = STORY_STORE_THEN_WEB
    zahra_traits = {"first_name": "زهرا", "last_name": "کریمی", "locale": "fa",
                    "timezone": "Asia/Tehran", "city": "تهران", **DEMO}  # fmt: skip
    zahra = services.identify(
        {"phone": ids["phone"], "loyalty_card": ids["loyalty_card"]},
        traits=zahra_traits,
        source=pos,
    )
    replay(zahra, "zahra-store", [
        (60, "visit", "store", "Store Visit", f"Store visit: {STORES['fa']}",
         {"store": STORES["fa"]}),
        (59.9, "track", "store", "Order Completed", "", _order("S-7001", (rug, 1))),
        (59, "note", "other", "Note", NOTES["fa"][1], {}),
    ])  # fmt: skip
    zahra_web = services.identify(
        {"anonymous_id": ids["anonymous_id"], "phone": "0937 111 2233"},
        traits=zahra_traits,
        source=web,
    )
    replay(zahra_web, "zahra-web", [
        (5, "page", "web", "Cart", "", {"path": "/cart", "title": "Cart"}),
        (4.9, "track", "web", "Checkout Started", "", {}),
    ])  # fmt: skip
    return {
        "web registration, then a call": services.live(caller).pk,
        "anonymous web, then app login": services.live(elvin).pk,
        "store purchase": zahra.pk,
        "same phone on a new device (suggested)": zahra_web.pk,
    }


# --- Bulk (benchmark) mode -----------------------------------------------------------------


@dataclass
class BulkReport:
    customers: int = 0
    identities: int = 0
    interactions: int = 0
    seconds: float = 0.0
    skipped: int = 0  # customers that already existed
    hot_customer: int | None = None
    hot_created: bool = False

    @property
    def rows(self) -> int:
        return self.customers + self.identities + self.interactions


CHUNK = 5000


def bulk_existing() -> tuple[int, int]:
    """(how many bulk customers exist, the highest index used)."""
    rows = Identity.objects.filter(kind="user_id", value__startswith=BULK_USER_ID_PREFIX)
    top = rows.aggregate(top=Max("value"))["top"]
    return rows.count(), int(top.removeprefix(BULK_USER_ID_PREFIX)) if top else 0


def hot_customer() -> Customer | None:
    """The benchmark's customer with a long history, if loaded."""
    return services.find_customer({"user_id": HOT_CUSTOMER_USER_ID})


def load_bulk(
    *,
    customers: int,
    per_customer: int,
    hot_interactions: int = 0,
    seed: int = 1,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> BulkReport:
    """Make sure ``customers`` bulk customers exist (each new one with ``per_customer`` timeline
    rows), plus one hot customer with ``hot_interactions`` rows; all or nothing. Idempotent:
    existing bulk customers count towards ``customers`` and the hot customer is made once."""
    started = time.perf_counter()
    report = BulkReport()
    now = now or timezone.now()
    existing, top = bulk_existing()
    report.skipped = min(existing, customers)
    missing = max(customers - existing, 0)
    with transaction.atomic():
        sources = {name: source.pk for name, source in ensure_sources().items()}
        writer = RowWriter()
        pools = {
            locale: build_pool(random.Random(f"demo-pool:{seed}:{locale}"), locale)
            for locale in TIME_ZONES
        }
        for start in range(top + 1, top + 1 + missing, CHUNK):
            count = min(CHUNK, top + 1 + missing - start)
            rng = random.Random(f"demo-bulk:{seed}:{start}")
            planned = plan_bulk(
                rng, start=start, count=count, per_customer=per_customer, now=now.timestamp()
            )
            _write_bulk(writer, planned, pools, sources, rng, now, report)
            if progress:
                progress(f"  {report.customers} customers, {report.interactions} interactions")
        if hot_interactions:
            hot = hot_customer()
            if hot is None:
                rng = random.Random(f"demo-hot:{seed}")
                planned = plan_bulk(
                    rng,
                    start=0,
                    count=1,
                    per_customer=hot_interactions,
                    now=now.timestamp(),
                    user_id=lambda _: HOT_CUSTOMER_USER_ID,
                )
                planned[0].identities[2:] = [
                    ("email", "hot.customer@example.com", True, WEB),
                    ("phone", "+989199999999", True, WEB),
                ]
                planned[0].times[-1] = now.timestamp() - 60  # active a minute ago
                report.hot_customer = _write_bulk(
                    writer, planned, pools, sources, rng, now, report
                )[0]
                report.hot_created = True
            else:
                report.hot_customer = hot.pk
    report.seconds = time.perf_counter() - started
    return report


def _write_bulk(
    writer: RowWriter,
    planned: Sequence[Planned],
    pools: dict[str, list[Template]],
    sources: dict[str, int],
    rng: random.Random,
    now: datetime,
    report: BulkReport,
) -> list[int]:
    ids = writer.customers([customer_row(plan, now) for plan in planned])
    report.customers += len(ids)
    report.identities += writer.rows(
        Identity,
        IDENTITY_COLUMNS,
        (
            row
            for pk, plan in zip(ids, planned, strict=True)
            for row in identity_rows(pk, plan, sources)
        ),
    )
    report.interactions += writer.rows(
        Interaction,
        INTERACTION_COLUMNS,
        (
            row
            for pk, plan in zip(ids, planned, strict=True)
            for row in interaction_rows(pk, plan, pools[plan.person.locale], sources, rng)
        ),
    )
    return ids


def demo_counts() -> dict[str, int]:
    """Row counts the command prints after loading."""
    return {
        "customers": Customer.objects.live().count(),
        "interactions": Interaction.objects.count(),
        "open merge suggestions": MergeSuggestion.objects.filter(
            status=MergeSuggestion.Status.OPEN
        ).count(),
        "consents": Consent.objects.count(),
    }
