"""Public pages behind the signed links in outbound messages: unsubscribe, preference center,
open pixel and click redirect.

Nobody logs in here: the signed token is the only credential (channels/links.py), so a forged or
altered token shows a "link not valid" page and changes nothing. Pages speak the customer's
language, whatever the browser asks for, because the message they came from did too.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import get_language_info, gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from channels import links, services
from channels.models import Channel, Message
from customers import services as customers
from customers.consents import ADDRESS_KIND, set_consent
from customers.errors import DomainError
from customers.models import Consent, Customer, Identity

logger = logging.getLogger(__name__)

# The smallest transparent GIF (43 bytes): what every mail client can show as nothing.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")

# Identity kinds the preference center offers, and the channel kind consent is set through
# (consent belongs to the address, so one phone box covers both SMS and WhatsApp).
PREFERENCE_KINDS = {
    Identity.Kind.EMAIL: Channel.Kind.EMAIL,
    Identity.Kind.PHONE: Channel.Kind.SMS,
    Identity.Kind.TELEGRAM: Channel.Kind.TELEGRAM,
}
PREFERENCE_LABELS = {
    Identity.Kind.EMAIL: _("Email"),
    Identity.Kind.PHONE: _("SMS and WhatsApp"),
    Identity.Kind.TELEGRAM: _("Telegram"),
}


def _evidence(request: HttpRequest, method: str, **extra: Any) -> dict[str, Any]:
    """The proof stored with a consent change: how, from where, with what browser."""
    return {
        "method": method,
        **extra,
        "ip": request.META.get("REMOTE_ADDR", ""),
        "user_agent": request.headers.get("User-Agent", "")[:500],
    }


def _language(customer: Customer) -> str:
    return customer.locale or settings.LANGUAGE_CODE


def _link_invalid(request: HttpRequest) -> HttpResponse:
    """A 404 that tells a person the link is broken (in the browser's language: a bad token
    names no customer)."""
    response = render(request, "channels/link_invalid.html", status=404)
    add_never_cache_headers(response)
    return response


def _message(token: str, salt: str) -> tuple[Message, dict[str, Any]] | None:
    """The message a token of this kind names, with the payload; None when forged, altered,
    of another kind, or the message is gone."""
    payload = links.read(token, salt)
    if payload is None:
        return None
    if salt == links.UNSUBSCRIBE_SALT:
        key = payload.get("k")
        lookup = {"idempotency_key": key} if isinstance(key, str) and key else None
    else:
        pk = payload.get("m")
        # bool is an int to Python; a signed payload never holds one, but stay strict.
        lookup = {"pk": pk} if isinstance(pk, int) and not isinstance(pk, bool) else None
    if lookup is None:
        return None
    message = Message.objects.select_related("customer", "channel").filter(**lookup).first()
    return (message, payload) if message is not None else None


# --- Unsubscribe ------------------------------------------------------------------------------


def _address(message: Message, customer: Customer) -> Identity | None:
    kind = ADDRESS_KIND.get(message.kind)
    if kind is None or not message.to:
        return None
    return Identity.objects.filter(customer=customer, kind=kind, value=message.to).first()


def _withdrawn(customer: Customer, address: Identity | None) -> bool:
    if address is None:
        return False
    return Consent.objects.filter(
        customer=customer,
        identity=address,
        purpose=Consent.Purpose.MARKETING,
        status=Consent.Status.WITHDRAWN,
    ).exists()


def _channel_label(message: Message) -> str:
    if message.kind in Channel.Kind.values:
        return str(Channel.Kind(message.kind).label)
    return message.kind


@csrf_exempt  # RFC 8058: mailbox providers POST one-click unsubscribes without our cookie.
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (link scanners prefetch GETs, so they must not unsubscribe anybody); POST
    withdraws marketing consent for the message's address, once, however often it comes."""
    found = _message(token, links.UNSUBSCRIBE_SALT)
    if found is None:
        return _link_invalid(request)
    message = found[0]
    customer = customers.live(message.customer)
    with translation.override(_language(customer)):
        wording = gettext("Stop sending marketing messages to %(address)s on %(channel)s.") % {
            "address": message.to,
            "channel": _channel_label(message),
        }
        context = {
            "message": message,
            "address": message.to,
            "channel": _channel_label(message),
            "wording": wording,
            "preferences_url": links.preferences_url(customer.public_id),
            "done": False,
        }
        if request.method == "POST":
            one_click = request.POST.get("List-Unsubscribe") == "One-Click"
            method = "one-click" if one_click else "unsubscribe page"
            try:
                if not message.to:
                    # Without the address, set_consent would pick one of the customer's own.
                    raise DomainError("no_address", "The message names no address.")
                set_consent(
                    customer,
                    channel=message.kind,
                    purpose=Consent.Purpose.MARKETING,
                    status=Consent.Status.WITHDRAWN,
                    address=message.to,
                    wording=wording,
                    proof=_evidence(request, method, message=message.pk),
                )
            except DomainError as error:
                # No such address on the profile (deleted since, or never set): nothing can
                # be sent to it, so the reader's wish holds already; say so rather than fail.
                logger.info(
                    "channels.unsubscribe_without_address message=%s code=%s",
                    message.pk,
                    error.code,
                )
            context["done"] = True
        else:
            context["done"] = _withdrawn(customer, _address(message, customer))
        return render(request, "channels/unsubscribe.html", context)


# --- Preference center ------------------------------------------------------------------------


def _language_choices() -> list[tuple[str, str]]:
    # Each language in its own name: a reader finds theirs whatever the page is shown in.
    return [(code, get_language_info(code)["name_local"]) for code, _name in settings.LANGUAGES]


class PreferencesForm(forms.Form):
    """One marketing box per address, and the language messages are written in."""

    language = forms.ChoiceField(label=_("Language"), choices=_language_choices)
    # The addresses the page showed: a box missing from the POST means "unticked" only for
    # these, never for an address added to the profile after the page was loaded.
    shown = forms.TypedMultipleChoiceField(
        choices=(), coerce=int, required=False, widget=forms.MultipleHiddenInput
    )

    def __init__(self, *args: Any, addresses: Sequence[Identity], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.addresses = list(addresses)
        self.fields["shown"].choices = [(a.pk, a.pk) for a in self.addresses]
        self.fields["shown"].initial = [a.pk for a in self.addresses]
        for address in self.addresses:
            self.fields[f"address_{address.pk}"] = forms.BooleanField(
                label=address.value, required=False
            )

    def rows(self) -> list[dict[str, Any]]:
        """What the template lists: each address with its channel label and its box."""
        return [
            {
                "identity": address,
                "label": PREFERENCE_LABELS[address.kind],
                "field": self[f"address_{address.pk}"],
            }
            for address in self.addresses
        ]


def _preferences_context(customer: Customer) -> tuple[list[Identity], dict[str, Any]]:
    addresses = list(
        Identity.objects.filter(customer=customer, kind__in=list(PREFERENCE_KINDS)).order_by(
            "kind", "created_at", "pk"
        )
    )
    states = dict(
        Consent.objects.filter(
            customer=customer, purpose=Consent.Purpose.MARKETING, identity__in=addresses
        ).values_list("identity_id", "status")
    )
    initial: dict[str, Any] = {"language": _language(customer)}
    for address in addresses:
        initial[f"address_{address.pk}"] = states.get(address.pk) == Consent.Status.GRANTED
    return addresses, {"initial": initial, "states": states}


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    """The customer's own view of their marketing consents and language. A normal form, so
    POST needs the CSRF token; a merged profile's old link opens the surviving one."""
    payload = links.read(token, links.PREFERENCES_SALT)
    public_id = payload.get("c") if payload else None
    customer = None
    if isinstance(public_id, str):
        try:
            customer = Customer.objects.filter(public_id=public_id).first()
        except ValidationError:  # not a UUID
            customer = None
    if customer is None:
        return _link_invalid(request)
    customer = customers.live(customer)
    addresses, known = _preferences_context(customer)
    saved = False
    status = 200
    with translation.override(_language(customer)):
        form = PreferencesForm(
            request.POST if request.method == "POST" else None,
            addresses=addresses,
            initial=known["initial"],
        )
        if form.is_bound and form.is_valid():
            _apply_preferences(request, customer, form, known["states"])
            customer = Customer.objects.get(pk=customer.pk)
            addresses, known = _preferences_context(customer)
            form = PreferencesForm(addresses=addresses, initial=known["initial"])
            saved = True
        elif form.is_bound:
            status = 400
    everywhere = Consent.objects.filter(
        customer=customer,
        identity__isnull=True,
        purpose=Consent.Purpose.MARKETING,
        status=Consent.Status.WITHDRAWN,
    ).exists()
    # After a save, in the language just chosen: the notice confirms it took.
    with translation.override(_language(customer)):
        return render(
            request,
            "channels/preferences.html",
            {"form": form, "saved": saved, "withdrawn_everywhere": everywhere},
            status=status,
        )


def _apply_preferences(
    request: HttpRequest, customer: Customer, form: PreferencesForm, states: dict[int, str]
) -> None:
    """Write only what changed: a ticked box grants, an unticked one withdraws a consent that
    was given (or pending); an address never asked about stays without a record."""
    shown = set(form.cleaned_data["shown"])
    proof = _evidence(request, "preference center")
    for address in form.addresses:
        if address.pk not in shown:
            continue
        wanted = form.cleaned_data[f"address_{address.pk}"]
        current = states.get(address.pk)
        if wanted and current != Consent.Status.GRANTED:
            status = Consent.Status.GRANTED
        elif not wanted and current in (Consent.Status.GRANTED, Consent.Status.PENDING):
            status = Consent.Status.WITHDRAWN
        else:
            continue
        # In the language the page was shown in (the caller's override): what they read.
        wording = gettext("Marketing messages to %(address)s (%(channel)s)") % {
            "address": address.value,
            "channel": PREFERENCE_LABELS[address.kind],
        }
        set_consent(
            customer,
            channel=PREFERENCE_KINDS[address.kind],
            purpose=Consent.Purpose.MARKETING,
            status=status,
            address=address.value,
            wording=wording,
            proof=proof,
        )
    language = form.cleaned_data["language"]
    if language != customer.locale:
        customers.update_profile(customer, fields={"locale": language}, traits={})


# --- Tracking ---------------------------------------------------------------------------------


def opened(request: HttpRequest, token: str) -> HttpResponse:
    """The open pixel: always a transparent GIF that no cache keeps (so each open reaches us);
    only a genuine token on a GET stamps the message, and only the first time."""
    found = _message(token, links.OPEN_SALT)
    if found is not None and request.method == "GET":
        services.note_engagement(found[0], "opened")
    response = HttpResponse(PIXEL, content_type="image/gif")
    add_never_cache_headers(response)
    response["Pragma"] = "no-cache"
    response["Expires"] = "0"
    return response


@never_cache
@require_http_methods(["GET", "HEAD"])
def clicked(request: HttpRequest, token: str) -> HttpResponse:
    """Redirect to a URL the message itself carried, and note the click. Never an open
    redirect: the token only holds an index into the message's own links."""
    found = _message(token, links.CLICK_SALT)
    if found is None:
        return _link_invalid(request)
    message, payload = found
    index = payload.get("l")
    urls = message.links if isinstance(message.links, list) else []
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(urls):
        return _link_invalid(request)
    url = urls[index]
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        return _link_invalid(request)
    if request.method == "GET":
        services.note_engagement(message, "clicked", url=url)
    response = HttpResponseRedirect(url)
    # The destination must not learn the token from the Referer header.
    response["Referrer-Policy"] = "no-referrer"
    return response
