"""What a message says: picking its template, and rendering it for one customer.

Templates use the Django template language over the context documented in docs/messages.md.
Subject and text render without HTML escaping; the HTML part escapes as every Django page does.
Rendering happens in the customer's language, so ``{% translate %}`` and date formats follow it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from django.conf import settings
from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import Template as DjangoTemplate
from django.utils import translation

from channels import links
from channels.models import Template
from customers.models import Customer


@cache
def _engine(*, autoescape: bool) -> Engine:
    # Message templates may load translations and the customer's-calendar date filter.
    libraries = {
        "i18n": "django.templatetags.i18n",
        "crm_dates": "customers.templatetags.crm_dates",
    }
    return Engine(autoescape=autoescape, libraries=libraries)


@dataclass
class Rendered:
    subject: str = ""
    text: str = ""
    html: str = ""
    links: list[str] = field(default_factory=list)


@lru_cache(maxsize=256)
def _compiled(source: str, autoescape: bool) -> DjangoTemplate:
    """A template compiled once per process (a fan-out renders one source thousands of times;
    an edited template is a new source)."""
    return _engine(autoescape=autoescape).from_string(source)


def syntax_error(source: str) -> str | None:
    """The template language error in ``source``, for form validation; None when it parses."""
    try:
        _engine(autoescape=False).from_string(source)
    except TemplateSyntaxError as error:
        return str(error)
    return None


def pick_template(key: str, kind: str, locale: str) -> Template | None:
    """The active template for this key and channel kind in the customer's language, else in
    the default language."""
    active = Template.objects.filter(key=key, kind=kind, active=True)
    candidates = {t.locale: t for t in active.only("pk", "locale")}
    for wanted in (locale, settings.LANGUAGE_CODE):
        if wanted in candidates:
            return Template.objects.get(pk=candidates[wanted].pk)
    return None


def language_of(customer: Customer) -> str:
    return customer.locale or settings.LANGUAGE_CODE


def render(
    *,
    customer: Customer,
    subject: str,
    text: str,
    html: str = "",
    context: Mapping[str, Any],
) -> Rendered:
    """Render the three parts in the customer's language; the HTML's links are remembered so
    the click redirect only goes where the message pointed."""
    with translation.override(language_of(customer)):
        ctx = Context(dict(context), autoescape=False)
        result = Rendered(
            subject=" ".join(_compiled(subject, False).render(ctx).split())[:300],
            text=_compiled(text, False).render(ctx).strip(),
        )
        if html:
            result.html = _compiled(html, True).render(Context(dict(context)))
            result.links = links.extract_links(result.html)
    return result


def base_context(customer: Customer, extra: Mapping[str, Any]) -> dict[str, Any]:
    """The documented context: the customer and their preference link, plus what the caller
    adds (journeys and campaigns pass ``cart``, ``product``, ``order``, ``discount_code``)."""
    context: dict[str, Any] = {
        "customer": customer,
        "first_name": customer.first_name,
        # Links are signed only if the template asks for them (the engine calls callables).
        "preferences_url": lambda: links.preferences_url(customer.public_id),
        "site_url": settings.SITE_URL.rstrip("/"),
        "discount_code": "",
        "cart": None,
        "product": None,
        "order": None,
    }
    context.update(extra)
    return context
