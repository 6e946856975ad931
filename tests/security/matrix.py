"""The role × URL matrix's machinery: every routed URL pattern, the objects that fill its path
parameters, the principals that call it, and what each outcome means.

The table itself (which principal may do what) lives in tests/security/test_role_matrix.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

INGEST_CALLS = ("identify", "track", "page", "screen", "group", "alias", "batch")
WEBHOOK_SECRET = "matrix-webhook-secret"


@dataclass(frozen=True)
class Route:
    """One URL pattern of config.urls: its full route string, name (with namespaces) and
    callback."""

    route: str
    name: str | None
    callback: Any

    @property
    def key(self) -> str:
        """How the table names this pattern: its URL name, or "/" + its route if unnamed."""
        return self.name or "/" + self.route


def routes() -> list[Route]:
    """Every URL pattern the project routes, walked recursively through every include."""
    return list(_walk(get_resolver(), "", None))


def _walk(resolver: URLResolver, prefix: str, namespace: str | None) -> Iterator[Route]:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _walk(pattern, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = pattern.name and (f"{namespace}:{pattern.name}" if namespace else pattern.name)
            yield Route(prefix + str(pattern.pattern), name, pattern.callback)


_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")
_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def fill(route: str, values: dict[str, Any]) -> str:
    """The URL path of ``route`` with each parameter replaced by ``values[name]``; KeyError
    names a parameter nobody knows how to fill."""

    def value(match: re.Match[str]) -> str:
        return str(values[match.group(1)])

    path = _GROUP.sub(value, route).replace("^", "").replace("$", "")
    path = _CONVERTER.sub(value, path)
    return "/" + path


_ADMIN_MODEL_ROUTE = re.compile(r"^admin/(\w+)/(\w+)/")


def admin_model(route: Route) -> str | None:
    """``app.model`` of the ModelAdmin that routes this URL (``admin:customers_customer_change``
    → ``customers.customer``), or None for the admin site's own views and everything else."""
    from django.contrib import admin

    labels = {model._meta.label_lower for model in admin.site._registry}
    if route.name and route.name.startswith("admin:"):
        short = route.name.removeprefix("admin:")
        for label in sorted(labels, key=len, reverse=True):
            if short.startswith(label.replace(".", "_") + "_"):
                return label
        return None
    match = _ADMIN_MODEL_ROUTE.match(route.route)
    label = f"{match.group(1)}.{match.group(2)}" if match else None
    return label if label in labels else None


@dataclass
class World:
    """Real rows every URL's path parameters are filled from."""

    objects: dict[str, Any] = field(default_factory=dict)  # "app.model" → instance
    values: dict[str, Any] = field(default_factory=dict)  # path parameter → value
    tokens: dict[str, str] = field(default_factory=dict)  # URL name → a valid token
    clients: dict[str, Client] = field(default_factory=dict)  # principal → its client

    def object(self, label: str) -> Any:
        """The row of ``app.model`` the admin URLs of that model are filled from."""
        if label in self.objects:
            return self.objects[label]
        from django.apps import apps

        found = apps.get_model(label)._default_manager.order_by("pk").first()
        assert found is not None, (
            f"No {label} row to fill its admin URLs: create one in "
            "tests/security/matrix.py build_world()."
        )
        return found

    def url(self, route: Route, *, token: str | None = None) -> str:
        """The path of ``route`` filled from this world (``token`` replaces the valid one)."""
        values = dict(self.values)
        label = admin_model(route)
        if label is not None and ("object_id>" in route.route or "<int:pk>" in route.route):
            values["object_id"] = values["pk"] = self.object(label).pk
        if "<str:token>" in route.route:
            values["token"] = token if token is not None else self.tokens[route.key]
        return fill(route.route, values)


def build_world() -> World:
    """One of everything the admin, the APIs and the public pages can name."""
    from django.contrib.auth.models import Group
    from django.contrib.contenttypes.models import ContentType
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )

    from campaigns.models import Campaign, CampaignRun, Segment
    from channels import links
    from channels.models import FrequencyCap, Holiday
    from commerce import restore
    from commerce import services as commerce
    from commerce.models import Cart, CartLine, Order, Product, Restock, StockAlert
    from customers import apikeys
    from customers.models import Case, Identity, MergeSuggestion
    from customers.services.merge import merge
    from journeys.engine import csat_url
    from journeys.models import Enrollment, Journey
    from security import audit
    from security.models import AuditEntry
    from tests.channels.factories import ChannelFactory, MessageFactory, TemplateFactory
    from tests.customers.factories import (
        ConsentFactory,
        CustomerFactory,
        IdentityFactory,
        InteractionFactory,
        SourceFactory,
        StaffFactory,
    )

    now = timezone.now()
    world = World()
    o = world.objects
    admin_user = StaffFactory(username="matrix-owner", role="Administrator")
    customer = CustomerFactory(first_name="Matrix")
    o["customers.customer"] = customer
    o["customers.identity"] = IdentityFactory(customer=customer, value="matrix@example.org")
    o["customers.interaction"] = InteractionFactory(customer=customer)
    o["customers.consent"] = ConsentFactory(customer=customer)
    source = SourceFactory(name="Matrix shop")
    o["customers.source"] = source
    o["customers.apikey"], _raw = apikeys.create_key(source, scopes=["track"], by=admin_user)
    o["customers.case"] = Case.objects.create(customer=customer, subject="Where is my order?")
    survivor, duplicate = CustomerFactory(), CustomerFactory()
    o["customers.mergerecord"] = merge(survivor=survivor, duplicate=duplicate)
    twin = CustomerFactory()
    IdentityFactory(customer=twin, kind=Identity.Kind.PHONE, value="+989120000001")
    o["customers.mergesuggestion"] = MergeSuggestion.objects.create(
        customer=customer, other=twin, identity_kind="phone", identity_value="+989120000001"
    )
    channel = ChannelFactory(webhook_secret=WEBHOOK_SECRET)
    o["channels.channel"] = channel
    o["channels.template"] = TemplateFactory()
    message = MessageFactory(customer=customer, channel=channel)
    o["channels.message"] = message
    o["channels.frequencycap"] = FrequencyCap.objects.create(
        name="Two a day", limit=2, period=timedelta(days=1), action="skip"
    )
    o["channels.holiday"] = Holiday.objects.create(date=now.date(), region="IR", name="Nowruz")
    product = Product.objects.create(sku="MATRIX-1", name="Saffron", price="9.50", stock_quantity=0)
    o["commerce.product"] = product
    o["commerce.restock"] = Restock.objects.create(product=product, previous_quantity=0, quantity=0)
    cart = Cart.objects.create(customer=customer, currency="USD")
    CartLine.objects.create(cart=cart, product=product, quantity=1, price="9.50")
    o["commerce.cart"] = cart
    o["commerce.order"] = Order.objects.create(
        customer=customer, external_id="MATRIX-ORDER-1", channel="web", source=source
    )
    alert = StockAlert.objects.create(
        customer=customer, product=product, channel="email", address="matrix@example.org"
    )
    o["commerce.stockalert"] = alert
    journey = Journey.objects.order_by("pk").first()
    o["journeys.journey"] = journey
    enrollment = Enrollment.objects.create(journey=journey, customer=customer)
    o["journeys.enrollment"] = enrollment
    segment = Segment.objects.create(
        name="Matrix segment", rules={"all": []}, kind=Segment.Kind.STATIC
    )
    o["campaigns.segment"] = segment
    campaign = Campaign.objects.create(name="Matrix campaign", segment=segment, channels=["email"])
    o["campaigns.campaign"] = campaign
    run = CampaignRun.objects.create(campaign=campaign)
    o["auth.group"] = Group.objects.get(name="Marketing")
    o["auth.user"] = admin_user
    o["django_celery_beat.intervalschedule"] = IntervalSchedule.objects.create(
        every=10, period="minutes"
    )
    o["django_celery_beat.crontabschedule"] = CrontabSchedule.objects.create(minute="7")
    o["django_celery_beat.solarschedule"] = SolarSchedule.objects.create(
        event="sunrise", latitude=35.7, longitude=51.4
    )
    o["django_celery_beat.clockedschedule"] = ClockedSchedule.objects.create(clocked_time=now)
    o["django_celery_beat.periodictask"] = PeriodicTask.objects.create(
        name="matrix task",
        task="journeys.sweep_due",
        interval=o["django_celery_beat.intervalschedule"],
    )
    _security_rows(o, admin_user)
    audit.record(audit.Action.MERGE, actor=admin_user, target=customer)
    o["security.auditentry"] = AuditEntry.objects.order_by("-pk").first()

    world.values = {
        "customer_id": customer.pk,
        "run_id": run.pk,
        "id": admin_user.pk,
        "content_type_id": ContentType.objects.get_for_model(customer).pk,
        "object_id": customer.pk,
        "app_label": "customers",
        "url": "no-such-page/",
        "public_id": customer.public_id,
        "external_id": "MATRIX-ORDER-1",
        "sku": "MATRIX-1",
        "channel_id": channel.pk,
    }
    world.tokens = {
        "alert-confirm": commerce.confirmation_token(alert),
        "cart-restore": restore.restore_token(cart, customer.public_id),
        "channels:unsubscribe": links.unsubscribe_token(message),
        "channels:preferences": links.preferences_token(customer.public_id),
        "channels:open": links.open_url(message).rstrip("/").rsplit("/", 1)[-1],
        "channels:click": links.click_url(message, 0).rstrip("/").rsplit("/", 1)[-1],
        "journeys:csat": csat_url(enrollment).rstrip("/").rsplit("/", 1)[-1],
    }
    return world


def _security_rows(objects: dict[str, Any], user: Any) -> None:
    """Second-factor devices and sign-in attempts, for the admin pages of those apps."""
    from django.apps import apps

    if apps.is_installed("django_otp.plugins.otp_totp"):
        from django_otp.plugins.otp_totp.models import TOTPDevice

        objects["otp_totp.totpdevice"] = TOTPDevice.objects.create(user=user, name="phone")
    if apps.is_installed("django_otp.plugins.otp_static"):
        from django_otp.plugins.otp_static.models import StaticDevice

        objects["otp_static.staticdevice"] = StaticDevice.objects.create(user=user, name="backup")
    if apps.is_installed("axes"):
        from axes.models import AccessAttempt, AccessFailureLog, AccessLog

        seen = {"username": user.get_username(), "ip_address": "192.0.2.1", "user_agent": "t"}
        objects["axes.accessattempt"] = AccessAttempt.objects.create(**seen, failures_since_start=1)
        objects["axes.accesslog"] = AccessLog.objects.create(**seen)
        objects["axes.accessfailurelog"] = AccessFailureLog.objects.create(**seen)


def fresh_client(role: str) -> Client:
    """A client signed in as a new staff member of ``role``."""
    from tests.customers.factories import StaffFactory

    client = Client()
    client.force_login(StaffFactory(role=role))
    return client


def principals(world: World, roles: tuple[str, ...], scopes: list[str]) -> dict[str, Client]:
    """A client per principal: anonymous, one signed in per role, one per API key scope (each
    key holding that scope alone), and a webhook provider holding the channel's secret."""
    from customers import apikeys
    from tests.customers.factories import SourceFactory

    clients = {"anonymous": Client(), "bad token": Client()}
    for role in roles:
        clients[role] = fresh_client(role)
    source = SourceFactory(name="Matrix storefront")
    for scope in scopes:
        _key, raw = apikeys.create_key(source, scopes=[scope])
        clients[f"key:{scope}"] = Client(headers={"Authorization": f"Bearer {raw}"})
    clients["provider"] = Client(headers={"X-Webhook-Secret": WEBHOOK_SECRET})
    return clients


def _ingest_body(call: str) -> dict[str, Any]:
    message = {
        "userId": "matrix-user",
        "anonymousId": "matrix-device",
        "previousId": "matrix-device",
        "event": "Matrix Checked",
        "name": "Home",
        "groupId": "matrix-group",
    }
    if call == "batch":
        return {"batch": [{"type": "track", **message}]}
    return message


def call(
    client: Client,
    method: str,
    path: str,
    *,
    route: Route,
    data: dict[str, Any],
    as_json: bool = False,
) -> Any:
    """One request as the table describes it: JSON for the APIs and webhooks, a form for
    the site."""
    if route.route.startswith(("api/v1/", "ingest/", "hooks/")):
        if route.route.startswith("ingest/v1/") and not data:
            data = _ingest_body(route.route.rsplit("/", 1)[-1])
        body = json.dumps(data) if method != "get" else None
        return client.generic(method.upper(), path, body or "", content_type="application/json")
    if as_json:
        return client.generic(method.upper(), path, json.dumps(data), "application/json")
    return getattr(client, method)(path, data)
