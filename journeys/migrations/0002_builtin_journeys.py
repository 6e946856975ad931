"""The journeys a new install starts with, their message templates in en/fa/ar/az, and what
each staff role may do with journeys. Staff edit or switch them off in the admin; this
migration never overwrites an existing journey or template (get_or_create by key)."""

import datetime

from django.db import migrations

from customers.roles import grant_in_migration, revoke_in_migration

H = datetime.timedelta(hours=1)
D = datetime.timedelta(days=1)

JOURNEYS = [
    {
        "key": "abandoned_cart",
        "name": "Abandoned cart",
        "trigger_events": ["Product Added", "Checkout Started"],
        "context": "cart",
        "restart_on_trigger": True,
        "exit_events": ["Order Completed"],
        "goal_event": "Order Completed",
        "goal_window": 5 * D,
        "steps": [
            {"wait": H, "condition": "cart_has_items", "channels": ["email", "sms"],
             "template": "abandoned_cart", "intent": "cart"},
            {"wait": 23 * H, "condition": "cart_has_items", "channels": ["sms", "email"],
             "template": "abandoned_cart_reminder", "intent": "cart",
             "discount_code": "COMEBACK10"},
        ],
    },
    {
        "key": "browse_abandonment",
        "name": "Browse abandonment",
        "trigger_events": ["Product Viewed"],
        "context": "product",
        "exit_events": [],
        "goal_event": "Order Completed",
        "goal_window": 5 * D,
        "reentry_period": 7 * D,
        "steps": [
            {"wait": 48 * H, "condition": "product_not_taken", "channels": ["email", "sms"],
             "template": "browse_abandonment", "intent": "browse", "discount_code": "LOOK10"},
        ],
    },
    {
        "key": "back_in_stock",
        "name": "Back in stock",
        "trigger_events": [],  # system trigger: a product's stock going from 0 to more
        "context": "product",
        "exit_events": [],
        "goal_event": "Order Completed",
        "goal_window": 5 * D,
        "steps": [
            {"wait": datetime.timedelta(0), "condition": "in_stock", "channels": ["email"],
             "template": "back_in_stock", "intent": "back_in_stock", "purpose": "transactional"},
        ],
    },
    {
        "key": "post_purchase",
        "name": "Post-purchase satisfaction",
        "trigger_events": ["Order Completed"],
        "context": "order",
        "exit_events": [],
        "goal_event": "",
        "goal_window": 5 * D,
        "steps": [
            {"wait": 3 * D, "condition": "", "channels": ["email", "sms"],
             "template": "post_purchase", "intent": "", "purpose": "transactional",
             "set_stage": "retention"},
        ],
    },
]

CART_LINES = "{% for line in cart.lines.all %}\n- {{ line.name|default:line.sku }} × {{ line.quantity }}{% endfor %}"
TEMPLATES = {
    ("abandoned_cart", "email"): {
        "en": ("{{ first_name|default:'Hello' }}, your cart is waiting",
               "Hi {{ first_name }},\nYou left these in your cart:" + CART_LINES
               + "\n\nFinish your order: {{ site_url }}\n\nUnsubscribe: {{ unsubscribe_url }}"),
        "fa": ("{{ first_name }} عزیز، سبد خرید شما منتظر است",
               "سلام {{ first_name }}،\nاین کالاها در سبد خرید شما مانده‌اند:" + CART_LINES
               + "\n\nتکمیل خرید: {{ site_url }}\n\nلغو اشتراک: {{ unsubscribe_url }}"),
        "ar": ("{{ first_name }}، سلة مشترياتك بانتظارك",
               "مرحبًا {{ first_name }}،\nتركت هذه المنتجات في سلتك:" + CART_LINES
               + "\n\nأكمل طلبك: {{ site_url }}\n\nإلغاء الاشتراك: {{ unsubscribe_url }}"),
        "az": ("{{ first_name }}, səbətiniz sizi gözləyir",
               "Salam {{ first_name }},\nSəbətinizdə bunlar qalıb:" + CART_LINES
               + "\n\nSifarişi tamamlayın: {{ site_url }}\n\nAbunəlikdən çıxmaq: {{ unsubscribe_url }}"),
    },
    ("abandoned_cart", "sms"): {
        "en": ("", "Your cart is waiting: {{ site_url }} STOP to opt out"),
        "fa": ("", "سبد خرید شما منتظر است: {{ site_url }} لغو۱۱"),
        "ar": ("", "سلة مشترياتك بانتظارك: {{ site_url }} للإلغاء: إلغاء"),
        "az": ("", "Səbətiniz sizi gözləyir: {{ site_url }} Dayandırmaq: dayandır"),
    },
    ("abandoned_cart_reminder", "sms"): {
        "en": ("", "Still thinking? Code {{ discount_code }} for your cart: {{ site_url }} STOP to opt out"),
        "fa": ("", "هنوز فکر می‌کنید؟ کد تخفیف {{ discount_code }} برای سبد شما: {{ site_url }} لغو۱۱"),
        "ar": ("", "ما زلت تفكر؟ رمز الخصم {{ discount_code }} لسلتك: {{ site_url }} للإلغاء: إلغاء"),
        "az": ("", "Hələ düşünürsünüz? Səbətiniz üçün {{ discount_code }} kodu: {{ site_url }} Dayandırmaq: dayandır"),
    },
    ("abandoned_cart_reminder", "email"): {
        "en": ("A discount for your cart", "Use {{ discount_code }} to finish your order:" + CART_LINES
               + "\n{{ site_url }}\n\nUnsubscribe: {{ unsubscribe_url }}"),
        "fa": ("تخفیفی برای سبد خرید شما", "با کد {{ discount_code }} خریدتان را کامل کنید:" + CART_LINES
               + "\n{{ site_url }}\n\nلغو اشتراک: {{ unsubscribe_url }}"),
        "ar": ("خصم على سلة مشترياتك", "استخدم الرمز {{ discount_code }} لإكمال طلبك:" + CART_LINES
               + "\n{{ site_url }}\n\nإلغاء الاشتراك: {{ unsubscribe_url }}"),
        "az": ("Səbətiniz üçün endirim", "Sifarişi tamamlamaq üçün {{ discount_code }} kodundan istifadə edin:"
               + CART_LINES + "\n{{ site_url }}\n\nAbunəlikdən çıxmaq: {{ unsubscribe_url }}"),
    },
    ("browse_abandonment", "email"): {
        "en": ("Still interested in {{ product.name|default:'it' }}?",
               "{{ product.name }} is waiting for you. Code {{ discount_code }} takes 10% off.\n"
               "{{ product.url|default:site_url }}\n\nUnsubscribe: {{ unsubscribe_url }}"),
        "fa": ("هنوز به {{ product.name }} علاقه دارید؟",
               "{{ product.name }} منتظر شماست. با کد {{ discount_code }} ده درصد تخفیف بگیرید.\n"
               "{{ product.url|default:site_url }}\n\nلغو اشتراک: {{ unsubscribe_url }}"),
        "ar": ("هل ما زلت مهتمًا بـ {{ product.name }}؟",
               "{{ product.name }} بانتظارك. الرمز {{ discount_code }} يمنحك خصم 10٪.\n"
               "{{ product.url|default:site_url }}\n\nإلغاء الاشتراك: {{ unsubscribe_url }}"),
        "az": ("{{ product.name }} hələ də maraqlıdır?",
               "{{ product.name }} sizi gözləyir. {{ discount_code }} kodu 10% endirim verir.\n"
               "{{ product.url|default:site_url }}\n\nAbunəlikdən çıxmaq: {{ unsubscribe_url }}"),
    },
    ("browse_abandonment", "sms"): {
        "en": ("", "{{ product.name }}: 10% off with {{ discount_code }} {{ site_url }} STOP to opt out"),
        "fa": ("", "{{ product.name }}: ده درصد تخفیف با کد {{ discount_code }} {{ site_url }} لغو۱۱"),
        "ar": ("", "{{ product.name }}: خصم 10٪ بالرمز {{ discount_code }} {{ site_url }} للإلغاء: إلغاء"),
        "az": ("", "{{ product.name }}: {{ discount_code }} ilə 10% endirim {{ site_url }} Dayandırmaq: dayandır"),
    },
    ("back_in_stock", "email"): {
        "en": ("{{ product.name }} is back", "Good news: {{ product.name }} is back in stock.\n{{ product.url|default:site_url }}"),
        "fa": ("{{ product.name }} موجود شد", "خبر خوب: {{ product.name }} دوباره موجود است.\n{{ product.url|default:site_url }}"),
        "ar": ("{{ product.name }} متوفر من جديد", "خبر سار: {{ product.name }} متوفر من جديد.\n{{ product.url|default:site_url }}"),
        "az": ("{{ product.name }} yenidən satışdadır", "Xoş xəbər: {{ product.name }} yenidən stokdadır.\n{{ product.url|default:site_url }}"),
    },
    ("back_in_stock", "sms"): {
        "en": ("", "{{ product.name }} is back in stock: {{ product.url|default:site_url }}"),
        "fa": ("", "{{ product.name }} دوباره موجود شد: {{ product.url|default:site_url }}"),
        "ar": ("", "{{ product.name }} متوفر من جديد: {{ product.url|default:site_url }}"),
        "az": ("", "{{ product.name }} yenidən stokdadır: {{ product.url|default:site_url }}"),
    },
    ("back_in_stock", "push"): {
        "en": ("Back in stock", "{{ product.name }} is back."),
        "fa": ("موجود شد", "{{ product.name }} دوباره موجود است."),
        "ar": ("متوفر من جديد", "{{ product.name }} متوفر من جديد."),
        "az": ("Yenidən stokda", "{{ product.name }} yenidən stokdadır."),
    },
    ("post_purchase", "email"): {
        "en": ("How was your order?", "Hi {{ first_name }}, how happy are you with your order, from 1 to 5? {{ csat_url }}"),
        "fa": ("سفارش شما چطور بود؟", "سلام {{ first_name }}، از ۱ تا ۵ چقدر از سفارش خود راضی هستید؟ {{ csat_url }}"),
        "ar": ("كيف كان طلبك؟", "مرحبًا {{ first_name }}، ما مدى رضاك عن طلبك من 1 إلى 5؟ {{ csat_url }}"),
        "az": ("Sifarişiniz necə idi?", "Salam {{ first_name }}, sifarişinizdən 1-dən 5-ə qədər nə dərəcədə razısınız? {{ csat_url }}"),
    },
    ("post_purchase", "sms"): {
        "en": ("", "How was your order, 1-5? {{ csat_url }}"),
        "fa": ("", "از ۱ تا ۵، سفارش شما چطور بود؟ {{ csat_url }}"),
        "ar": ("", "ما تقييمك لطلبك من 1 إلى 5؟ {{ csat_url }}"),
        "az": ("", "Sifarişinizi 1-5 arası qiymətləndirin: {{ csat_url }}"),
    },
}

ROLES = {
    "Support agent": ["view_journey", "view_journeystep", "view_enrollment"],
    "Marketing": [
        "view_journey", "change_journey", "add_journey",
        "view_journeystep", "change_journeystep", "add_journeystep", "delete_journeystep",
        "view_enrollment",
    ],
}


def forwards(apps, schema_editor):
    Journey = apps.get_model("journeys", "Journey")
    JourneyStep = apps.get_model("journeys", "JourneyStep")
    Template = apps.get_model("channels", "Template")
    for spec in JOURNEYS:
        spec = dict(spec)
        steps = spec.pop("steps")
        journey, created = Journey.objects.get_or_create(key=spec.pop("key"), defaults=spec)
        if created:
            for position, step in enumerate(steps):
                JourneyStep.objects.create(journey=journey, position=position, **step)
    for (key, kind), languages in TEMPLATES.items():
        for locale, (subject, text) in languages.items():
            Template.objects.get_or_create(
                key=key, kind=kind, locale=locale, defaults={"subject": subject, "text": text}
            )
    grant_in_migration(apps, "journeys", ROLES)


def backwards(apps, schema_editor):
    Journey = apps.get_model("journeys", "Journey")
    Template = apps.get_model("channels", "Template")
    Journey.objects.filter(key__in=[spec["key"] for spec in JOURNEYS]).delete()
    for key, kind in TEMPLATES:
        Template.objects.filter(key=key, kind=kind).delete()
    revoke_in_migration(apps, "journeys", ROLES)


class Migration(migrations.Migration):
    dependencies = [
        ("journeys", "0001_initial"),
        ("channels", "0002_defaults_and_roles"),
        ("customers", "0002_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
