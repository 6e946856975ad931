"""The timeline's query goes to PostgreSQL as a prepared statement with a generic plan, so a
customer page does not pay for planning a query over every monthly partition each time."""

import datetime as dt

import psycopg
import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers import partitions, selectors
from customers.models import Interaction
from tests.customers.factories import CustomerFactory, InteractionFactory
from tests.settings_probe import databases_with

pytestmark = pytest.mark.django_db


def timeline_statements() -> list[tuple[str, int, int]]:
    """The prepared statements of this connection that read the timeline:
    (statement, generic plans, custom plans)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE '%%customers_interaction%%' ORDER BY prepare_time"
        )
        return cursor.fetchall()


def ids(page: selectors.TimelinePage) -> list[int]:
    return [row.pk for row in page.items]


def test_the_timeline_is_prepared_once_and_reused_for_every_customer(postgres_only):
    first, second = CustomerFactory(interactions=60), CustomerFactory(interactions=3)
    expected = list(Interaction.objects.filter(customer=first).values_list("pk", flat=True)[:50])

    page = selectors.timeline(first)
    assert ids(page) == expected
    assert page.next_cursor is not None
    assert len(selectors.timeline(second).items) == 3
    assert ids(selectors.timeline(first)) == expected

    [(statement, generic, custom)] = timeline_statements()
    assert "$1" in statement  # bound on the server: one statement for every customer
    assert statement.endswith("LIMIT $2")  # the plan does not know the page size
    assert (generic, custom) == (3, 0)  # planned once, never again per customer


def test_filters_and_the_next_page_give_what_an_unprepared_query_gives(postgres_only):
    customer = CustomerFactory(interactions=80)
    InteractionFactory(customer=customer, channel="sms", type=Interaction.Type.MESSAGE)
    asks = [
        {},
        {"channel": "sms"},
        {"types": [Interaction.Type.MESSAGE, Interaction.Type.TRACK]},
        {"channel": "web", "types": [Interaction.Type.TRACK]},
    ]

    def pages() -> list[list[int]]:
        seen = []
        for ask in asks:
            page = selectors.timeline(customer, limit=20, **ask)
            seen.append(ids(page))
            while page.next_cursor is not None:
                page = selectors.timeline(customer, before=page.next_cursor, limit=20, **ask)
                seen.append(ids(page))
        return seen

    prepared = pages()
    assert timeline_statements()  # they went prepared
    with override_settings(DATABASE_PREPARED_STATEMENTS=False):
        assert pages() == prepared
    assert sum(map(len, prepared[:5])) == 81  # all 81 rows, in pages of 20


def plan_of_prepared(name: str, *params: object) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN EXECUTE {name}({', '.join(['%s'] * len(params))})", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_kept_plan_walks_the_index_even_when_customers_look_tiny(postgres_only):
    """A generic plan is made for the average customer. Where most customers have a row or two
    a month, a literal LIMIT makes PostgreSQL plan to sort all of a customer's rows, a disaster
    for the customer with 50,000; with the LIMIT a parameter it keeps the index order."""
    now = timezone.now()
    heavy = CustomerFactory()
    for months_ago in range(3):
        at = now - dt.timedelta(days=31 * months_ago)
        partitions.create_month(partitions.month_of(at))
        InteractionFactory.create_batch(100, customer=heavy, occurred_at=at)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # as if the rows had been committed
        cursor.execute(
            "SELECT inhrelid::regclass::text FROM pg_inherits "
            "WHERE inhparent = 'customers_interaction'::regclass"
        )
        for (name,) in cursor.fetchall():  # every row its own customer, as far as it knows
            cursor.execute(f"ALTER TABLE {name} ALTER COLUMN customer_id SET (n_distinct = -1)")
            cursor.execute(f"ANALYZE {name}")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        literal = selectors.timeline_query(heavy).query.sql_with_params()[0]
        literal = literal.replace("LIMIT %s", "LIMIT 51").replace("%s", "$1")
        cursor.execute(f"PREPARE literal_limit AS {literal}")

    assert len(selectors.timeline(heavy).items) == 50
    [name] = [row[0] for row in prepared_names()]

    assert "Sort" in plan_of_prepared("literal_limit", heavy.pk)  # what a literal would do
    kept = plan_of_prepared(name, heavy.pk, 51)
    assert "Merge Append" in kept
    assert "Sort Key" in kept  # Merge Append's own key, no Sort node under it
    assert "->  Sort" not in kept


def prepared_names() -> list[tuple[str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE name LIKE '\\_pg3\\_%%'")
        return cursor.fetchall()


def test_switched_off_nothing_is_prepared(postgres_only):
    customer = CustomerFactory(interactions=3)
    with override_settings(DATABASE_PREPARED_STATEMENTS=False):
        for _ in range(3):
            assert len(selectors.timeline(customer).items) == 3
    assert timeline_statements() == []


def test_other_queries_are_never_prepared(postgres_only):
    customer = CustomerFactory(interactions=3)
    for _ in range(10):
        Interaction.objects.filter(customer=customer).count()
        list(Interaction.objects.filter(customer=customer))
    selectors.timeline(customer)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] == 1


@pytest.mark.django_db(transaction=True)
def test_a_month_added_by_another_process_shows_on_a_prepared_timeline(postgres_only):
    """The daily partition task runs in a worker: PostgreSQL replans the web connection's
    prepared timeline when the table's partitions change under it."""
    customer = CustomerFactory()
    now = timezone.now()
    InteractionFactory(customer=customer, occurred_at=now - dt.timedelta(days=1))
    assert len(selectors.timeline(customer).items) == 1
    assert len(selectors.timeline(customer).items) == 1
    future = partitions.add_months(partitions.month_of(now), 40)
    name = f"customers_interaction_{future:%Y_%m}"
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        autocommit=True,
    ) as other:
        start, end = future, partitions.add_months(future, 1)
        other.execute(
            f"CREATE TABLE {name} PARTITION OF customers_interaction "
            f"FOR VALUES FROM ('{start}') TO ('{end}')"
        )
        other.execute(
            "INSERT INTO customers_interaction (customer_id, channel, type, direction, name, "
            "summary, occurred_at, received_at, properties, context, message_id) VALUES "
            "(%s, 'web', 'track', 'in', 'Later', 'from the future', %s, now(), '{}', '{}', '')",
            [customer.pk, dt.datetime(future.year, future.month, 2, tzinfo=dt.UTC)],
        )

    page = selectors.timeline(customer)

    assert [row.summary for row in page.items][:1] == ["from the future"]
    assert len(page.items) == 2
    [(_, generic, custom)] = timeline_statements()
    assert generic >= 3
    assert custom == 0


@pytest.mark.parametrize(
    ("env", "options"),
    [
        ({"DATABASE_PREPARED_STATEMENTS": ""}, "-c jit=off -c plan_cache_mode=force_generic_plan"),
        ({"DATABASE_PREPARED_STATEMENTS": "0"}, "-c jit=off"),
        ({"OPTIONS_IN_URL": "1"}, "-c search_path=crm -c plan_cache_mode=force_generic_plan"),
    ],
)
def test_postgres_connections_plan_prepared_statements_generically(env, options):
    url = "postgres://crm@db:5432/crm"
    if env.pop("OPTIONS_IN_URL", None):
        url += "?options=-c%20search_path%3Dcrm"
    databases = databases_with(DATABASE_URL=url, **env)
    assert databases["default"]["OPTIONS"]["options"] == options


def test_the_query_log_still_shows_the_timeline_query_with_its_values(postgres_only):
    customer = CustomerFactory(interactions=2)
    with CaptureQueriesContext(connection) as captured:
        selectors.timeline(customer)
        selectors.timeline(customer)
    assert [f'"customer_id" = {customer.pk}' in q["sql"] for q in captured] == [True, True]
    assert connection.features.uses_server_side_binding is False  # put back after the query


def test_a_statement_lost_behind_psycopgs_back_fails_with_a_hint(postgres_only, caplog):
    """What a pooler in transaction mode does to prepared statements: the error says which
    setting to change."""
    from django.db import DatabaseError

    customer = CustomerFactory(interactions=2)
    selectors.timeline(customer)
    [(name,)] = prepared_names()
    with connection.cursor() as cursor:
        cursor.execute(f"DEALLOCATE {name}")  # psycopg still believes it is there

    with pytest.raises(DatabaseError):
        selectors.timeline(customer)

    assert "DATABASE_PREPARED_STATEMENTS=0" in caplog.text
