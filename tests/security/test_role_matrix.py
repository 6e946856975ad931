"""Every URL the project routes × every principal: allowed or refused, as this table says.

How it works (docs/security.md "Who may see what"): ``matrix.routes()`` walks config.urls; each
pattern is looked up here, by URL name (or by route string when unnamed). Admin model pages
(changelist, add, history, delete, change) are derived from MODELS, the view/add/change/delete
rights of each role on each registered model; every other URL has its own row in ROWS. A
pattern with no row fails test_every_routed_url_has_a_row, naming the row to add.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib import admin
from django.db import transaction

from customers.models import ApiKey
from tests.security import matrix

ANON, AGENT, MARKETING, ADMIN = "anonymous", "Support agent", "Marketing", "Administrator"
ROLES = (AGENT, MARKETING, ADMIN)
STAFF = (ANON, *ROLES)
# One API key per scope, each holding that scope alone.
KEYS = tuple(f"key:{scope}" for scope in ApiKey.Scope.values)
TRACK, READ, WRITE = "key:track", "key:read", "key:write"
PRIVACY = "key:privacy"
PROVIDER = "provider"  # a webhook call carrying the channel's shared secret
BAD_TOKEN = "bad token"  # a public page opened with a forged token

# Outcomes.
ALLOW = "allow"  # 2xx, or a redirect that is not to the sign-in page (API: past auth, no 5xx)
DENY = "deny"  # 403 or a redirect to the sign-in page; the APIs: 401/403 JSON
NOT_FOUND = "not found"  # 404
REFUSED_LINK = "refused link"  # the page's own 4xx answer, never a 5xx


@dataclass(frozen=True)
class Row:
    """What each principal gets from one URL (``method`` with ``data``)."""

    expect: dict[str, str]
    method: str = "get"
    data: dict[str, Any] = field(default_factory=dict)
    query: str = ""
    json: bool = False  # send ``data`` as a JSON body (always so for the APIs)


def staff(agent: str, marketing: str, administrator: str, *, anonymous: str = DENY, **kw) -> Row:
    return Row({ANON: anonymous, AGENT: agent, MARKETING: marketing, ADMIN: administrator}, **kw)


def everyone(outcome: str, **kw: Any) -> Row:
    return Row(dict.fromkeys(STAFF, outcome), **kw)


def api(allowed: tuple[str, ...], *, method: str = "get", **kw: Any) -> Row:
    """An API endpoint: the keys in ``allowed`` get through, every other key, no key and a
    staff session (the APIs take no cookies) are refused."""
    expect = {key: (ALLOW if key in allowed else DENY) for key in KEYS}
    return Row({ANON: DENY, ADMIN: DENY, **expect}, method=method, **kw)


def link() -> Row:
    """A public page behind a signed link: the link works for anyone, a forged one is refused."""
    return Row({ANON: ALLOW, BAD_TOKEN: REFUSED_LINK})


def hook() -> Row:
    return Row({ANON: DENY, ADMIN: DENY, PROVIDER: ALLOW}, method="post")


# What each role may do on each model's admin pages: (Support agent, Marketing, Administrator),
# each a subset of "vacd" (view, add, change, delete). Anonymous is always sent to sign in.
MODELS: dict[str, tuple[str, str, str]] = {
    "auth.group": ("", "", "vacd"),
    "auth.user": ("", "", "vacd"),
    "django_celery_beat.periodictask": ("", "", "vacd"),
    "django_celery_beat.clockedschedule": ("", "", "vacd"),
    "django_celery_beat.crontabschedule": ("", "", "vacd"),
    "django_celery_beat.solarschedule": ("", "", "vacd"),
    "django_celery_beat.intervalschedule": ("", "", "vacd"),
    # Sign-in attempts are recorded, never typed in.
    "axes.accessattempt": ("", "", "vcd"),
    "axes.accesslog": ("", "", "vcd"),
    "axes.accessfailurelog": ("", "", "vcd"),
    # The audit log is append-only, for everyone.
    "security.auditentry": ("", "", "v"),
    "customers.case": ("vac", "", "vacd"),
    # Merges are made by the merge action and undone, never added or deleted by hand.
    "customers.mergerecord": ("v", "", "v"),
    "customers.mergesuggestion": ("vc", "", "vcd"),
    "customers.customer": ("v", "v", "vacd"),
    "customers.source": ("v", "v", "vacd"),
    # Keys are made on their source's page (shown once), never through a bare add form.
    "customers.apikey": ("", "", "vcd"),
    "customers.identity": ("v", "v", "vacd"),
    "customers.consent": ("v", "v", "vacd"),
    # The timeline is written by services only.
    "customers.interaction": ("v", "v", "v"),
    "channels.channel": ("v", "v", "vacd"),
    "channels.template": ("v", "vacd", "vacd"),
    "channels.frequencycap": ("", "vac", "vacd"),
    "channels.holiday": ("", "vacd", "vacd"),
    # The outbox is written by the send services only.
    "channels.message": ("v", "v", "v"),
    "commerce.product": ("v", "v", "vacd"),
    "commerce.restock": ("v", "v", "vacd"),
    "commerce.cart": ("v", "v", "vacd"),
    "commerce.order": ("v", "v", "vacd"),
    "commerce.stockalert": ("v", "v", "vacd"),
    "journeys.enrollment": ("v", "v", "v"),
    # Built-in journeys can be switched off, never deleted.
    "journeys.journey": ("v", "vac", "vac"),
    "campaigns.campaign": ("", "vacd", "vacd"),
    "campaigns.segment": ("", "vacd", "vacd"),
    "insights.dashboard": ("", "v", "v"),
}
# The right each standard admin page needs ("redirect": /admin/<app>/<model>/<id>/ only
# redirects to the change page, which checks).
STANDARD = {
    "changelist": "v",
    "add": "a",
    "history": "v",
    "change": "v",
    "delete": "d",
}

ROWS: dict[str, Row] = {
    # --- The site itself ---
    "/": everyone(ALLOW),
    "set_language": everyone(ALLOW, method="post", data={"language": "fa"}),
    "schema": everyone(ALLOW),
    "api-docs": everyone(ALLOW),
    "demo-shop": everyone(ALLOW),
    # --- Admin site views ---
    "admin:index": staff(ALLOW, ALLOW, ALLOW),
    "admin:login": everyone(ALLOW),
    "admin:logout": everyone(ALLOW, method="post"),
    "admin:password_change": staff(ALLOW, ALLOW, ALLOW),
    "admin:password_change_done": staff(ALLOW, ALLOW, ALLOW),
    "admin:jsi18n": staff(ALLOW, ALLOW, ALLOW),
    # Django asks the searched model's admin: whoever may view customers may look them up.
    "admin:autocomplete": staff(
        ALLOW,
        ALLOW,
        ALLOW,
        query="term=Ma&app_label=customers&model_name=case&field_name=customer",
    ),
    "admin:view_on_site": staff(NOT_FOUND, NOT_FOUND, NOT_FOUND),
    "admin:app_list": staff(ALLOW, ALLOW, ALLOW),
    "/admin/(?P<url>.*)$": staff(NOT_FOUND, NOT_FOUND, NOT_FOUND),
    # --- Two-factor pages: every staff member manages their own second factor ---
    "security:two-factor": staff(ALLOW, ALLOW, ALLOW),
    "security:two-factor-setup": staff(ALLOW, ALLOW, ALLOW),
    "security:two-factor-verify": staff(ALLOW, ALLOW, ALLOW),
    "security:two-factor-backup-codes": staff(ALLOW, ALLOW, ALLOW, method="post"),
    "security:two-factor-reset": staff(ALLOW, ALLOW, ALLOW, method="post"),
    "admin:auth_user_password_change": staff(DENY, DENY, ALLOW),
    # --- Customers ---
    "admin:customers_customer_log": staff(
        ALLOW, DENY, ALLOW, method="post", data={"type": "note", "summary": "Called back"}
    ),
    # Personal data export and erasure: administrators only (never a support agent).
    "admin:customers_customer_export": staff(DENY, DENY, ALLOW),
    "admin:customers_customer_erase": staff(DENY, DENY, ALLOW),
    # --- Channels ---
    "admin:channels_template_preview": staff(ALLOW, ALLOW, ALLOW),
    "admin:channels_message_send": staff(ALLOW, DENY, ALLOW, method="post"),
    # --- Commerce ---
    "admin:commerce_cart_convert_in_store": staff(DENY, DENY, ALLOW, method="post"),
    # --- Campaigns: Marketing's; audience exports never reach a support agent ---
    "admin:campaigns_campaign_results": staff(DENY, ALLOW, ALLOW),
    "admin:campaigns_campaign_schedule": staff(DENY, ALLOW, ALLOW, method="post"),
    "admin:campaigns_campaign_unschedule": staff(DENY, ALLOW, ALLOW, method="post"),
    "admin:campaigns_campaign_pause": staff(DENY, ALLOW, ALLOW, method="post"),
    "admin:campaigns_campaign_resume": staff(DENY, ALLOW, ALLOW, method="post"),
    "admin:campaigns_campaign_cancel": staff(DENY, ALLOW, ALLOW, method="post"),
    "admin:campaigns_campaign_test_send": staff(DENY, ALLOW, ALLOW, method="post"),
    "admin:campaigns_segment_preview": staff(
        DENY, ALLOW, ALLOW, method="post", json=True, data={"rules": {"all": []}}
    ),
    "admin:campaigns_segment_export": staff(DENY, ALLOW, ALLOW),
    "admin:campaigns_segment_audience": staff(DENY, ALLOW, ALLOW),
    "admin:campaigns_segment_import": staff(DENY, ALLOW, ALLOW, method="post"),
    # --- Insights ---
    "admin:insights_dashboard": staff(DENY, ALLOW, ALLOW),
    # --- Tracking API: the track scope only ---
    **{f"ingest:{kind}": api((TRACK,), method="post") for kind in matrix.INGEST_CALLS},
    "/ingest/": Row(dict.fromkeys((ANON, *KEYS), NOT_FOUND)),
    # --- REST API: read for GET, write for changes, privacy for export and erasure ---
    "api:customers": api((READ,)),
    "api:customer": api((READ,)),
    "api:customer-timeline": api((READ,)),
    "api:customer-cart": api((READ,)),
    "api:order": api((READ,)),
    "api:product": api((READ,)),
    "api:orders": api((WRITE,), method="post"),
    "api:consents": api((WRITE,), method="post"),
    "api:cart-restores": api((WRITE,), method="post"),
    "api:stock-alerts": api((WRITE,), method="post"),
    "api:verifications": api((WRITE,), method="post"),
    "api:verify": api((WRITE,), method="post"),
    "api:export": api((PRIVACY,)),
    "api:erase": api((PRIVACY,), method="post"),
    "/api/v1/": Row(dict.fromkeys((ANON, *KEYS), NOT_FOUND)),
    # --- Public pages behind signed links, and provider webhooks ---
    "alert-confirm": link(),
    "cart-restore": link(),
    "channels:unsubscribe": link(),
    "channels:preferences": link(),
    # The pixel is a GIF whatever the token (a forged one records nothing).
    "channels:open": Row({ANON: ALLOW, BAD_TOKEN: ALLOW}),
    "channels:click": link(),
    "journeys:csat": link(),
    "channels:hook-status": hook(),
    "channels:hook-inbound": hook(),
    # --- Operations: probes for anyone (a load balancer has no session); /metrics only for its
    # bearer token (tests/ops), off here where METRICS_TOKEN is unset, whoever asks ---
    "healthz": everyone(ALLOW),
    "readyz": everyone(ALLOW),
    "metrics": Row(dict.fromkeys((*STAFF, *KEYS), NOT_FOUND)),
}
# Changes to the same customer on the API: one row per method, on top of the GET rows above.
EXTRA_API_METHODS: dict[str, Row] = {
    "api:customer": api((WRITE,), method="patch"),
    "api:customer-cart": api((WRITE,), method="put"),
    "api:product": api((WRITE,), method="put"),
}


@pytest.fixture(autouse=True)
def beat_is_alive(isolated_cache):
    """The matrix is about who reaches what: /readyz answers 200 here (beat alive, a fresh
    heartbeat), so a refusal cannot hide behind its 503 (tests/ops tests the 503)."""
    from django.core.cache import cache
    from django.utils import timezone

    from customers.tasks import HEARTBEAT_KEY

    cache.set(HEARTBEAT_KEY, timezone.now().isoformat(), timeout=None)


def row_for(route: matrix.Route) -> Row | None:
    """The table's row for a routed pattern, or None when the table lacks one."""
    if route.key in ROWS:
        return ROWS[route.key]
    label = matrix.admin_model(route)
    if label is None or label not in MODELS:
        return None
    agent, marketing, administrator = MODELS[label]
    if route.name is None:  # /admin/<app>/<model>/<id>/ redirects to the change page
        return staff(ALLOW, ALLOW, ALLOW)
    page = route.name.rsplit("_", 1)[-1]
    if page not in STANDARD:
        return None
    need = STANDARD[page]
    return staff(
        *(ALLOW if need in rights else DENY for rights in (agent, marketing, administrator))
    )


def _ids(route: matrix.Route) -> str:
    return route.key


ROUTES = matrix.routes()


def test_every_routed_url_has_a_row():
    missing = [r for r in ROUTES if row_for(r) is None]
    assert not missing, "\n".join(
        f"{r.route!r} (name {r.name!r}) has no row in tests/security/test_role_matrix.py: "
        + (
            f"add {matrix.admin_model(r)!r} to MODELS"
            if matrix.admin_model(r) and matrix.admin_model(r) not in MODELS
            else f"add ROWS[{r.key!r}]"
        )
        for r in missing
    )


def test_the_table_names_no_url_that_is_gone():
    keys = {r.key for r in ROUTES}
    labels = {model._meta.label_lower for model in admin.site._registry}
    assert set(ROWS) - keys == set()
    assert set(EXTRA_API_METHODS) - keys == set()
    assert set(MODELS) - labels == set()


# --- Running the requests -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """One world of real rows and one signed-in client per principal for the whole module;
    each test still runs in its own savepoint, rolled back after it."""
    with django_db_blocker.unblock(), transaction.atomic():
        built = matrix.build_world()
        built.clients = matrix.principals(built, ROLES, ApiKey.Scope.values)
        yield built
        transaction.set_rollback(True)


def _check(outcome: str, response: Any, *, surface: str) -> bool:
    status = response.status_code
    location = response.get("Location", "")
    to_login = status in (301, 302) and "/login/" in location
    if outcome == ALLOW:
        if surface == "api":
            return status < 500 and status not in (401, 403, 404, 405)
        return (200 <= status < 300) or (300 <= status < 400 and not to_login)
    if outcome == DENY:
        if surface == "api":
            return status in (401, 403) and {"code", "message"} <= set(response.json())
        return status == 403 or to_login
    if outcome == NOT_FOUND:
        return status == 404
    if outcome == REFUSED_LINK:
        return 400 <= status < 500
    raise AssertionError(outcome)


def _surface(route: matrix.Route) -> str:
    return "api" if route.route.startswith(("api/v1/", "ingest/", "hooks/")) else "site"


def _run(world: Any, route: matrix.Route, row: Row) -> list[str]:
    wrong = []
    for principal, outcome in row.expect.items():
        client = world.clients[principal]
        if route.key == "admin:logout" and principal != ANON:
            client = matrix.fresh_client(principal)  # signing out must not end the shared session
        token = "forged" + world.tokens.get(route.key, "x")[6:] if principal == BAD_TOKEN else None
        path = world.url(route, token=token) + (f"?{row.query}" if row.query else "")
        response = matrix.call(
            client, row.method, path, route=route, data=row.data, as_json=row.json
        )
        if response.status_code >= 500 or not _check(outcome, response, surface=_surface(route)):
            wrong.append(
                f"{principal:>15}: expected {outcome}, got {response.status_code} "
                f"{response.get('Location', '')}"
            )
    return wrong


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=_ids)
def test_principal_gets_what_the_table_says(world, route):
    row = row_for(route)
    assert row is not None, f"no row for {route.key!r}: see test_every_routed_url_has_a_row"
    wrong = _run(world, route, row)
    if route.key in EXTRA_API_METHODS:
        wrong += _run(world, route, EXTRA_API_METHODS[route.key])
    assert not wrong, f"{row.method.upper()} {route.route}:\n" + "\n".join(wrong)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "route",
    [r for r in ROUTES if r.route.startswith("admin/") and "<path:object_id>" in r.route],
    ids=_ids,
)
def test_an_object_that_does_not_exist_is_never_a_server_error(world, route):
    path = matrix.fill(route.route, {**world.values, "object_id": 987654321})
    response = world.clients[ADMIN].get(path)
    assert response.status_code in (302, 403, 404, 405), (path, response.status_code)
    if response.status_code == 302:
        assert "/login/" not in response["Location"]


@pytest.mark.django_db
def test_support_agents_are_offered_no_export_or_bulk_download(rf):
    from tests.customers.factories import StaffFactory

    agent = StaffFactory(role=AGENT)
    offered = []
    for model, model_admin in admin.site._registry.items():
        request = rf.get("/admin/")
        request.user = agent
        if not model_admin.has_view_or_change_permission(request):
            continue
        for name in model_admin.get_actions(request):
            if any(word in name for word in ("export", "download", "csv")):
                offered.append(f"{model._meta.label_lower}: {name}")
    assert offered == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "route",
    [r for r in ROUTES if r.route.startswith("api/v1/") and "<str:" in r.route],
    ids=_ids,
)
def test_an_api_object_that_does_not_exist_is_a_json_404(world, route):
    nowhere = {"public_id": "00000000-0000-0000-0000-000000000000", "external_id": "nope"}
    path = matrix.fill(route.route, {**world.values, **nowhere, "sku": "NOPE"})
    key = PRIVACY if route.key in ("api:export", "api:erase") else READ
    method = "post" if route.key == "api:erase" else "get"
    response = matrix.call(world.clients[key], method, path, route=route, data={})
    assert response.status_code == 404, (path, response.status_code, response.content[:200])
    assert {"code", "message"} <= set(response.json())


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_no_role_reads_a_channel_secret_on_the_pages_it_may_open(world, role):
    for name in ("admin:channels_channel_change", "admin:channels_channel_changelist"):
        route = next(r for r in ROUTES if r.name == name)
        response = world.clients[role].get(world.url(route))
        assert matrix.WEBHOOK_SECRET not in response.content.decode(), (role, name)
