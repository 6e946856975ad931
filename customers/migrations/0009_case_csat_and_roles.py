"""Support cases: the satisfaction request's message templates in en/fa/ar/az (channels'
Template rows, key "case-csat"; never overwriting a template staff edited: get_or_create), and
what each staff role may do with cases: support agents see, open and work them; marketing
nothing."""

from django.db import migrations

from customers.roles import grant_in_migration, revoke_in_migration

KEY = "case-csat"
TEMPLATES = {
    "email": {
        "en": ("How did we do?",
               "Hi {{ first_name }},\nyour request “{{ case_subject }}” is resolved. How satisfied "
               "are you with our help, from 1 (not at all) to 5 (very)?\nJust reply with one "
               "digit; write a comment after it if you like."),
        "fa": ("از پشتیبانی ما راضی بودید؟",
               "سلام {{ first_name }}،\nدرخواست شما «{{ case_subject }}» حل شد. از ۱ (اصلاً) تا "
               "۵ (خیلی زیاد) چقدر از کمک ما راضی هستید؟\nفقط با یک عدد پاسخ دهید؛ اگر خواستید "
               "نظرتان را بعد از آن بنویسید."),
        "ar": ("كيف كانت خدمتنا؟",
               "مرحبًا {{ first_name }}،\nتم حل طلبك «{{ case_subject }}». ما مدى رضاك عن "
               "مساعدتنا من 1 (غير راضٍ) إلى 5 (راضٍ جدًا)؟\nأرسل رقمًا واحدًا فقط، ويمكنك "
               "إضافة تعليق بعده."),
        "az": ("Xidmətimizdən razı qaldınız?",
               "Salam {{ first_name }},\n“{{ case_subject }}” müraciətiniz həll olundu. "
               "Köməyimizdən 1-dən (heç) 5-ə (çox) qədər nə dərəcədə razısınız?\nSadəcə bir "
               "rəqəmlə cavab verin; istəsəniz ondan sonra şərh yazın."),
    },
    "sms": {
        "en": ("", "“{{ case_subject }}” is resolved. How satisfied are you, 1-5? Reply with "
                   "one digit."),
        "fa": ("", "«{{ case_subject }}» حل شد. از ۱ تا ۵ چقدر راضی هستید؟ با یک عدد پاسخ "
                   "دهید."),
        "ar": ("", "تم حل «{{ case_subject }}». ما مدى رضاك من 1 إلى 5؟ أرسل رقمًا واحدًا."),
        "az": ("", "“{{ case_subject }}” həll olundu. 1-5 arası nə qədər razısınız? Bir "
                   "rəqəmlə cavab verin."),
    },
}
ROLES = {"Support agent": ["view_case", "add_case", "change_case"]}


def forwards(apps, schema_editor):
    Template = apps.get_model("channels", "Template")
    for kind, languages in TEMPLATES.items():
        for locale, (subject, text) in languages.items():
            Template.objects.get_or_create(
                key=KEY, kind=kind, locale=locale, defaults={"subject": subject, "text": text}
            )
    grant_in_migration(apps, "customers", ROLES)


def backwards(apps, schema_editor):
    apps.get_model("channels", "Template").objects.filter(key=KEY).delete()
    revoke_in_migration(apps, "customers", ROLES)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0008_cases"),
        ("channels", "0002_defaults_and_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
