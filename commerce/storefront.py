"""The demo storefront: a small web shop served by the CRM itself (``/demo/shop/``) that feeds
the tracking API from the browser, as a real shop's page would, so a visitor can watch their
cart appear on the customer page.

The page holds a write key, and anything in a page is public: the key is a track-only key of
its own source ("Demo storefront"), made on first use and kept in ``VAR_DIR`` (a key's
plaintext is never stored in the database). Off unless ``DEMO_STOREFRONT``.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from commerce.models import Product
from customers import apikeys
from customers.models import ApiKey, Source

SOURCE_NAME = "Demo storefront"
PRODUCTS_SHOWN = 12


def _key_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-storefront.key"


def storefront_key() -> str:
    """The plaintext of the demo storefront's track-only key; a new one when the kept one is
    gone, revoked or was made for another database."""
    path = _key_file()
    try:
        raw = path.read_text().strip()
    except OSError:
        raw = ""
    key = apikeys.authenticate(raw) if raw else None
    if key is not None and key.source.name == SOURCE_NAME and key.scopes == ["track"]:
        return raw
    source, _created = Source.objects.get_or_create(
        name=SOURCE_NAME, defaults={"kind": Source.Kind.WEB}
    )
    _key, raw = apikeys.create_key(
        source, scopes=[ApiKey.Scope.TRACK], name="Public key in the demo shop's page"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(raw + "\n")
    path.chmod(0o600)
    return raw


@require_GET
def shop(request: HttpRequest) -> HttpResponse:
    if not settings.DEMO_STOREFRONT:
        raise Http404
    products = Product.objects.filter(price__isnull=False).order_by("name")[:PRODUCTS_SHOWN]
    return render(
        request,
        "storefront/shop.html",
        {
            "products": products,
            "config": {
                "key": storefront_key(),
                "endpoint": reverse("ingest:track").rsplit("/", 1)[0] + "/",
                "text": {
                    "remove": _("Remove"),
                    "sent": _("Sent to the CRM: %s"),
                    "failed": _("The CRM refused it: %s"),
                    "ordered": _("Order %s placed."),
                    "offline": _("The CRM did not answer; try again."),
                },
            },
        },
    )
