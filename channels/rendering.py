"""What a message says: picking its template, and rendering it for one customer.

Templates use the Django template language over the context documented in docs/messages.md.
Subject and text render without HTML escaping; the HTML part escapes as every Django page does.
Rendering happens in the customer's language, so ``{% translate %}`` and date formats follow it.

Templates are written by staff but fill in customer data, so they run in a sandbox: only the
``i18n`` and ``crm_dates`` libraries load; ``{% include %}``, ``{% extends %}``, ``{% debug %}``
and ``{% url %}`` do not exist (a template using them does not parse, so the admin refuses
it); and rows in the context are shown through views that expose only the documented fields
(``EXPOSED``) — no related managers, no methods, no other rows (a customer's messages, a staff
member's password hash), anything else renders empty.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any

from django.conf import settings
from django.db import models
from django.template import Context, Engine, Library, TemplateSyntaxError
from django.template.base import Template as DjangoTemplate
from django.utils import translation
from django.utils.functional import Promise

from channels import links
from channels.models import Template
from customers.models import Customer

# Message templates may load translations and the customer's-calendar date filter, nothing else.
LIBRARIES = {
    "i18n": "django.templatetags.i18n",
    "crm_dates": "customers.templatetags.crm_dates",
}
# Built-in tags a message template cannot use: they read files, print the whole context (and
# sys.modules), or reveal the site's internal URLs.
FORBIDDEN_TAGS = frozenset({"include", "extends", "debug", "url", "ssi", "csrf_token"})


def sandboxed_engine(*, autoescape: bool, libraries: Mapping[str, str]) -> Engine:
    """A template engine without loaders (no files) whose built-ins lack FORBIDDEN_TAGS."""
    engine = Engine(autoescape=autoescape, libraries=dict(libraries), loaders=[])
    allowed = Library()
    for builtin in engine.template_builtins:
        allowed.filters.update(builtin.filters)
        allowed.tags.update(
            (name, tag) for name, tag in builtin.tags.items() if name not in FORBIDDEN_TAGS
        )
    engine.template_builtins = [allowed]
    return engine


@cache
def _engine(*, autoescape: bool) -> Engine:
    return sandboxed_engine(autoescape=autoescape, libraries=LIBRARIES)


# What a template sees of each kind of row (by model label): these fields and properties, and
# for the names in ROWS a list of rows (``cart.lines.all``). Documented in docs/messages.md.
EXPOSED: dict[str, frozenset[str]] = {
    "customers.customer": frozenset(
        {
            "first_name",
            "last_name",
            "display_name",
            "locale",
            "time_zone",
            "traits",
            "stage",
            "public_id",
            "order_count",
            "total_spent",
            "first_order_at",
            "last_order_at",
        }
    ),
    "commerce.cart": frozenset(
        {"lines", "currency", "created_at", "changed_at", "checkout_started_at"}
    ),
    "commerce.cartline": frozenset({"sku", "name", "price", "quantity", "total", "product"}),
    "commerce.product": frozenset(
        {"sku", "name", "url", "image_url", "price", "currency", "in_stock"}
    ),
    "commerce.order": frozenset(
        {
            "external_id",
            "lines",
            "currency",
            "subtotal",
            "discount",
            "tax",
            "shipping",
            "total",
            "coupon",
            "placed_at",
        }
    ),
    "commerce.orderline": frozenset({"sku", "name", "price", "quantity", "product"}),
    "customers.case": frozenset({"subject", "opened_at", "resolved_at"}),
}
ROWS = frozenset({"lines"})
_PLAIN = (str, int, float, bool, Decimal, dt.date, dt.time, dt.timedelta, uuid.UUID)


class RowView:
    """A row as a template sees it: the exposed names only; everything else (other fields,
    methods, related managers, ``pk``) raises AttributeError, which renders as empty."""

    __slots__ = ("_names", "_row")

    def __init__(self, row: models.Model, names: frozenset[str]) -> None:
        object.__setattr__(self, "_row", row)
        object.__setattr__(self, "_names", names)

    def __getattr__(self, name: str) -> Any:
        if name not in self._names:
            raise AttributeError(name)
        value = getattr(self._row, name)
        if name in ROWS:
            return RowsView(value)
        return exposed(value)

    def __str__(self) -> str:
        return str(self._row)

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        # A view of a row equals the row ({% if cart == order.cart %}, tests).
        if isinstance(other, RowView):
            return other._row == self._row
        return isinstance(other, models.Model) and other == self._row

    def __hash__(self) -> int:
        return hash(self._row)


class RowsView:
    """The rows of a relation (``cart.lines``): ``all``, a loop, ``count``; each row a view."""

    __slots__ = ("_manager",)

    def __init__(self, manager: Any) -> None:
        self._manager = manager

    def all(self) -> list[Any]:
        rows = self._manager.all() if hasattr(self._manager, "all") else self._manager
        return [exposed(row) for row in rows]

    def count(self) -> int:
        return len(self.all())

    def __iter__(self) -> Iterator[Any]:
        return iter(self.all())

    def __len__(self) -> int:
        return self.count()

    def __str__(self) -> str:
        return ""


def exposed(value: Any) -> Any:
    """What a template may see of ``value``: plain values and JSON as they are, rows through a
    RowView (a row of a kind not in EXPOSED shows its text only), callables (lazy links) as
    they are, anything else as nothing."""
    if value is None or isinstance(value, (*_PLAIN, RowView, RowsView, Promise)):
        return value
    if isinstance(value, models.Model):
        return RowView(value, EXPOSED.get(value._meta.label_lower, frozenset()))
    if isinstance(value, models.QuerySet):
        return [exposed(row) for row in value]
    if isinstance(value, dict):
        return {str(key): exposed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [exposed(item) for item in value]
    if callable(value) and not isinstance(value, type):
        return lambda: exposed(value())
    return None


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
    safe = {str(name): exposed(value) for name, value in context.items()}
    with translation.override(language_of(customer)):
        ctx = Context(dict(safe), autoescape=False)
        result = Rendered(
            # One line: a line break from customer data cannot start an email header.
            subject=" ".join(_compiled(subject, False).render(ctx).split())[:300],
            text=_compiled(text, False).render(ctx).strip(),
        )
        if html:
            result.html = _compiled(html, True).render(Context(dict(safe)))
            result.links = links.extract_links(result.html)
    return result


def base_context(customer: Customer, extra: Mapping[str, Any]) -> dict[str, Any]:
    """The documented context: the customer and their preference link, plus what the caller
    adds (journeys and campaigns pass ``cart``, ``product``, ``order``, ``discount_code``).
    ``render`` shows the rows in it through views (``exposed``)."""
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
