"""The read replica (config/routers.py, config/replica.py): which reads go to it, and that
sessions, sign-in, writes and transactions stay on the primary.

The ``replica`` fixture configures the alias the way DATABASE_REPLICA_URL does, as a test mirror
of the primary (TEST MIRROR): its own connection to the same test database. The tests are
transactional so that connection sees the rows the test wrote; each asserts, per connection,
which tables it read or wrote.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import connections, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.models import Segment
from config import replica as replica_middleware
from config import routers
from config.routers import REPLICA, ReplicaRouter, read_from_replica
from customers.models import Case, Customer, Identity
from security.models import AuditEntry
from tests.customers.factories import CustomerFactory, IdentityFactory, StaffFactory
from tests.settings_probe import databases_with

TABLE = re.compile(r'(?:FROM|JOIN|INTO|UPDATE)\s+"([a-z_0-9]+)"', re.IGNORECASE)
CHANGELIST = reverse("admin:customers_customer_changelist")
DASHBOARD = reverse("admin:insights_dashboard")


pytestmark = pytest.mark.django_db(transaction=True, databases=["default", REPLICA])


@pytest.fixture(scope="module", autouse=True)
def replica_alias(django_db_setup):
    """A ``replica`` alias mirroring the test database, with its own connection: there before
    each test's database set-up, which must know every alias it may use."""
    conf = copy.deepcopy(connections["default"].settings_dict)
    conf["TEST"] = {**conf.get("TEST", {}), "MIRROR": "default"}
    connections.settings[REPLICA] = conf
    yield
    connections[REPLICA].close()
    del connections[REPLICA]
    del connections.settings[REPLICA]


@pytest.fixture
def replica():
    from tests.e2e import roles

    roles.restore()  # an earlier transactional test flushed the role groups
    return connections[REPLICA]


@pytest.fixture
def no_replica():
    conf = connections.settings.pop(REPLICA)
    yield
    connections.settings[REPLICA] = conf


@contextmanager
def capture():
    """(primary, replica) query captures around the block."""
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections[REPLICA]) as standby,
    ):
        yield primary, standby


def tables(captured) -> set[str]:
    return {table for query in captured.captured_queries for table in TABLE.findall(query["sql"])}


def writes(captured) -> list[str]:
    return [
        query["sql"]
        for query in captured.captured_queries
        if query["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]


SIGN_IN_TABLES = {"django_session", "auth_user"}


@pytest.fixture
def agent(client, replica):
    client.force_login(StaffFactory(role="Support agent"))
    return client


@pytest.fixture
def marketer(client, replica):
    client.force_login(StaffFactory(role="Marketing"))
    return client


def test_the_replica_is_its_own_connection(replica):
    assert replica is not connections["default"]
    replica.ensure_connection()
    connections["default"].ensure_connection()
    assert replica.connection is not connections["default"].connection
    assert replica.settings_dict["NAME"] == connections["default"].settings_dict["NAME"]


# --- What reads the replica ---------------------------------------------------------------------


def test_an_admin_list_reads_the_replica_and_the_sign_in_the_primary(agent):
    IdentityFactory(customer=CustomerFactory(first_name="Leyla"), value="leyla@example.org")

    with capture() as (primary, standby):
        page = agent.get(CHANGELIST, {"q": "leyla@example.org"})

    assert page.status_code == 200
    assert "Leyla" in page.content.decode()
    assert "customers_customer" in tables(standby)
    assert "customers_customer" not in tables(primary)
    assert SIGN_IN_TABLES <= tables(primary)
    assert not SIGN_IN_TABLES & tables(standby)
    assert not writes(standby)


def test_the_insights_dashboard_and_its_csv_read_the_replica(marketer):
    CustomerFactory()

    with capture() as (primary, standby):
        page = marketer.get(DASHBOARD)
    assert page.status_code == 200
    assert {"customers_interaction", "commerce_order"} <= tables(standby)
    assert "commerce_order" not in tables(primary)

    with capture() as (primary, standby):
        download = marketer.get(DASHBOARD, {"export": "conversion"})
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/csv")
    assert "commerce_order" in tables(standby)
    assert "security_auditentry" in tables(primary)  # the export's audit entry: a write
    assert not writes(standby)


def test_a_segment_audience_streams_from_the_replica(marketer):
    person = CustomerFactory(order_count=1)
    IdentityFactory(customer=person, value="sara@example.org")
    segment = Segment.objects.create(
        name="Buyers", rules={"all": [{"field": "order_count", "op": "gte", "value": 1}]}
    )

    with capture() as (primary, standby):
        response = marketer.get(reverse("admin:campaigns_segment_audience", args=[segment.pk]))
        body = b"".join(response.streaming_content).decode()

    assert body.count("\n") == 2  # the header and Sara's hashed address
    # The body is read after the view returned: its identities still come from the replica.
    assert "customers_identity" in tables(standby)
    assert "customers_identity" not in tables(primary)
    assert AuditEntry.objects.filter(action=AuditEntry.Action.SEGMENT_EXPORT).exists()
    assert not writes(standby)


def test_a_customer_export_reads_the_document_from_the_replica(agent, replica):
    admin = StaffFactory(is_superuser=True)
    agent.force_login(admin)
    person = CustomerFactory(first_name="Sara")
    url = reverse("admin:customers_customer_export", args=[person.pk])

    with capture() as (primary, standby):
        response = agent.get(url)

    assert response.status_code == 200
    assert json.loads(response.content)["customer"]["first_name"] == "Sara"
    # The document (the customer, identities, timeline…) from the replica; its audit entry,
    # a write, on the primary.
    assert {"customers_customer", "customers_identity", "customers_interaction"} <= tables(standby)
    assert "customers_interaction" not in tables(primary)
    assert "security_auditentry" in tables(primary)
    assert not writes(standby)


# --- What stays on the primary ------------------------------------------------------------------


def make_case(**fields):
    return Case.objects.create(customer=CustomerFactory(), subject="Help", **fields)


def test_an_admin_action_runs_on_the_primary_and_pins_the_next_pages_there(agent):
    case = make_case()
    queue = reverse("admin:customers_case_changelist")

    with capture() as (primary, standby):
        response = agent.post(
            queue, {"action": "assign_to_me", "_selected_action": [case.pk], "index": 0}
        )

    assert response.status_code == 302
    assert standby.captured_queries == []
    assert writes(primary)
    case.refresh_from_db()
    assert case.assignee is not None
    assert replica_middleware.PIN_COOKIE in response.cookies
    assert response.cookies[replica_middleware.PIN_COOKIE]["max-age"] == (
        settings.DATABASE_REPLICA_PIN_SECONDS
    )

    # Back on the list a moment later: it reads the primary, which has the change.
    with capture() as (primary, standby):
        assert agent.get(queue).status_code == 200
    assert "customers_case" in tables(primary)
    assert standby.captured_queries == []

    # Once the pin has expired, the list reads the replica again.
    del agent.cookies[replica_middleware.PIN_COOKIE]
    with capture() as (primary, standby):
        assert agent.get(queue).status_code == 200
    assert "customers_case" in tables(standby)


@pytest.fixture
def replica_down(replica):
    """The replica stops answering: its connection closed and its address one nobody serves."""
    kept = copy.deepcopy(replica.settings_dict)
    replica.close()
    replica.connection = None  # SQLite's close() keeps an in-memory test database open
    if replica.vendor == "postgresql":
        replica.settings_dict.update(PORT="1", OPTIONS={**kept["OPTIONS"], "connect_timeout": 2})
    else:
        replica.settings_dict["NAME"] = "/nonexistent/dir/replica.sqlite3"
    yield replica
    replica.close()
    replica.settings_dict.clear()
    replica.settings_dict.update(kept)
    routers._replica_down_until = 0.0


def test_when_the_replica_is_down_the_list_page_reads_the_primary(agent, replica_down, caplog):
    CustomerFactory(first_name="Leyla")

    with CaptureQueriesContext(connections["default"]) as primary:
        page = agent.get(CHANGELIST)

    assert page.status_code == 200
    assert "Leyla" in page.content.decode()
    assert "customers_customer" in tables(primary)
    assert "replica.unreachable" in caplog.text
    # For a while the next pages go straight to the primary, without trying the replica.
    caplog.clear()
    assert agent.get(CHANGELIST, {"q": "Leyla"}).status_code == 200
    assert "replica.unreachable" not in caplog.text
    assert not routers.replica_up()


def test_the_replica_is_tried_again_after_the_retry_time(agent, replica_down, settings):
    settings.DATABASE_REPLICA_RETRY_SECONDS = 0
    assert agent.get(CHANGELIST).status_code == 200
    assert routers.replica_up()
    replica_down.settings_dict.update(copy.deepcopy(connections["default"].settings_dict))
    replica_down.settings_dict["TEST"] = {"MIRROR": "default"}
    with capture() as (primary, standby):
        assert agent.get(CHANGELIST).status_code == 200
    assert "customers_customer" in tables(standby)
    assert "customers_customer" not in tables(primary)


def test_a_failure_of_the_primary_is_not_taken_for_the_replica(agent, replica):
    from django.db import OperationalError

    request = RequestFactory().get(CHANGELIST)
    middleware = replica_middleware.ReplicaMiddleware(lambda request: None)
    request._replica_scope = read_from_replica()
    request._replica_scope.__enter__()
    try:
        replica.ensure_connection()  # the replica answers
        assert middleware.process_exception(request, OperationalError("primary gone")) is None
    finally:
        request._replica_scope.__exit__(None, None, None)
    assert routers.replica_up()


def test_other_admin_pages_read_the_primary(agent):
    person = CustomerFactory()

    with capture() as (primary, standby):
        page = agent.get(reverse("admin:customers_customer_change", args=[person.pk]))

    assert page.status_code == 200
    assert standby.captured_queries == []
    assert "customers_customer" in tables(primary)


def test_an_api_write_and_read_use_the_primary(replica, api):
    with capture() as (primary, standby):
        response = api.post(
            "/ingest/v1/track",
            {"userId": "u-1", "event": "Product Viewed", "properties": {"sku": "S-1"}},
            format="json",
        )
        assert response.status_code == 200, response.content
        person = Identity.objects.get(kind="user_id", value="u-1").customer
        lookup = api.get(f"/api/v1/customers/{person.public_id}")
        assert lookup.status_code == 200

    assert standby.captured_queries == []
    assert "customers_interaction" in tables(primary)


def test_a_read_inside_a_transaction_goes_to_the_primary(replica):
    CustomerFactory()
    with read_from_replica():
        with capture() as (primary, standby):
            assert Customer.objects.count() == 1
        assert "customers_customer" in tables(standby)
        assert "customers_customer" not in tables(primary)

        with capture() as (primary, standby), transaction.atomic():
            Customer.objects.create(first_name="New")
            assert Customer.objects.count() == 2  # sees its own write
        assert standby.captured_queries == []
        assert "customers_customer" in tables(primary)


def test_writes_and_sign_in_models_always_use_the_primary(replica):
    user = StaffFactory()
    router = ReplicaRouter()
    with read_from_replica():
        for model in (Session, get_user_model(), Identity):
            assert router.db_for_write(model) == "default"
        for model in (Session, get_user_model(), AuditEntry):
            expected = REPLICA if model is AuditEntry else "default"
            assert router.db_for_read(model) == expected, model
        with capture() as (primary, standby):
            user.refresh_from_db()
            CustomerFactory()
            Session.objects.filter(session_key="nothing").exists()
        assert standby.captured_queries == []
        assert {"auth_user", "customers_customer", "django_session"} <= tables(primary)
    # Outside the block: the primary.
    assert router.db_for_read(Customer) == "default"


def test_migrations_run_on_the_primary_only(replica):
    router = ReplicaRouter()
    assert router.allow_migrate(REPLICA, "customers") is False
    assert router.allow_migrate("default", "customers") is None  # Django's default: yes
    person = CustomerFactory()
    with read_from_replica():
        from_replica = Customer.objects.get(pk=person.pk)
    assert from_replica._state.db == REPLICA
    assert router.allow_relation(from_replica, person) is True


# --- Without a replica ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_without_a_replica_the_router_changes_nothing(no_replica, client):
    assert REPLICA not in connections.settings
    router = ReplicaRouter()
    with read_from_replica():
        assert router.db_for_read(Customer) is None
        assert Customer.objects.count() == 0
    client.force_login(StaffFactory(role="Support agent"))
    response = client.post(reverse("admin:customers_case_changelist"), {"action": "x"})
    assert replica_middleware.PIN_COOKIE not in response.cookies
    assert client.get(CHANGELIST).status_code == 200


def test_database_replica_url_adds_the_replica_with_the_primarys_options():
    databases = databases_with(
        DATABASE_URL="postgres://crm@primary:5432/crm",
        DATABASE_REPLICA_URL="postgres://crm@standby:5432/crm",
    )
    assert databases["replica"]["OPTIONS"]["options"] == (
        "-c jit=off -c plan_cache_mode=force_generic_plan"
    )
    assert databases["replica"]["OPTIONS"]["connect_timeout"] == 5
    assert databases["default"]["OPTIONS"]["connect_timeout"] == 5
    assert databases["replica"]["TEST"]["MIRROR"] == "default"
    assert "replica" not in databases_with(
        DATABASE_URL="postgres://crm@primary:5432/crm", DATABASE_REPLICA_URL=""
    )


def test_a_replica_of_another_kind_of_database_is_refused():
    with pytest.raises(subprocess.CalledProcessError) as error:
        databases_with(
            DATABASE_URL="postgres://crm@primary:5432/crm",
            DATABASE_REPLICA_URL="sqlite:////tmp/copy.sqlite3",
        )
    assert "same database" in error.value.stderr
