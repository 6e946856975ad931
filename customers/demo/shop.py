"""The demo shop: its storefronts (sources), products, pages and messages in four languages."""

from __future__ import annotations

from customers.models import Source

# (name, kind, trusted): the storefronts the demo's events come from.
DEMO_SOURCES: tuple[tuple[str, str, bool], ...] = (
    ("Web shop", Source.Kind.WEB, False),
    ("Mobile app", Source.Kind.APP, False),
    ("Store POS", Source.Kind.POS, False),
    ("Call center", Source.Kind.CALL_CENTER, True),
)
WEB, APP, POS, CALL_CENTER = (name for name, _, _ in DEMO_SOURCES)
CURRENCY = "USD"

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


def ensure_sources() -> dict[str, Source]:
    """The demo storefronts by name; existing rows are kept as staff left them."""
    sources = {}
    for name, kind, trusted in DEMO_SOURCES:
        defaults = {"kind": kind, "trusted": trusted}
        sources[name], _ = Source.objects.get_or_create(name=name, defaults=defaults)
    return sources
