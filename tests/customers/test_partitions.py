"""The interaction table partitioned by month (PostgreSQL), and a plain table on SQLite."""

import base64
import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from customers import partitions, selectors
from customers.models import Customer, Interaction
from customers.services import merge
from customers.services.events import build_interaction, insert_many, record_interaction
from customers.tasks import ensure_partitions
from tests.customers.factories import CustomerFactory, InteractionFactory, SourceFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def at(year: int, month: int, day: int = 15) -> dt.datetime:
    return dt.datetime(year, month, day, 12, tzinfo=UTC)


def home(pk: int) -> str:
    """The partition a row sits in."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM customers_interaction WHERE id = %s", [pk]
        )
        return cursor.fetchone()[0]


def keys() -> set[tuple[int, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT source_id, message_id FROM customers_interaction_key")
        return set(cursor.fetchall())


def keyed_rows() -> set[tuple[int, str]]:
    return set(
        Interaction.objects.filter(source__isnull=False)
        .exclude(message_id="")
        .values_list("source_id", "message_id")
    )


def test_the_table_is_partitioned_on_postgres_and_plain_elsewhere():
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    if connection.vendor == "postgresql":
        assert partitions.supported()
        names = {p.name for p in partitions.partitions()}
        this_month = partitions.month_of(timezone.now())
        for ahead in range(partitions.DEFAULT_AHEAD + 1):
            month = partitions.add_months(this_month, ahead)
            assert f"customers_interaction_{month:%Y_%m}" in names
        assert "customers_interaction_default" in names
    else:
        assert not partitions.supported()
        assert "customers_interaction_key" not in tables
        assert partitions.partitions() == []
        assert partitions.ensure_ahead(3) == []
        assert partitions.detach_before(dt.date(2020, 1, 1)) == []


def test_the_command_and_the_task_say_why_they_do_nothing_on_sqlite():
    if connection.vendor == "postgresql":
        pytest.skip("SQLite behaviour")
    out = StringIO()
    call_command("interaction_partitions", "--ahead", "3", stdout=out)
    assert "PostgreSQL only" in out.getvalue()
    assert ensure_partitions.apply().get() == []


def test_an_interaction_lands_in_its_months_partition(postgres_only):
    partitions.create_month(dt.date(2031, 3, 1))
    row = InteractionFactory(occurred_at=at(2031, 3))
    assert home(row.pk) == "customers_interaction_2031_03"
    assert Interaction.objects.get(pk=row.pk) == row


def test_a_month_without_partition_goes_to_default_and_creating_it_moves_the_rows(postgres_only):
    source = SourceFactory()
    first = InteractionFactory(occurred_at=at(2032, 7, 1), source=source, message_id="m-1")
    second = InteractionFactory(occurred_at=at(2032, 7, 31))
    other = InteractionFactory(occurred_at=at(2032, 9))
    assert {home(first.pk), home(second.pk)} == {"customers_interaction_default"}
    assert partitions.default_months() == [dt.date(2032, 7, 1), dt.date(2032, 9, 1)]

    created = partitions.ensure_ahead(1, today=dt.date(2032, 6, 20))

    assert created == ["customers_interaction_2032_06", "customers_interaction_2032_07"]
    assert {home(first.pk), home(second.pk)} == {"customers_interaction_2032_07"}
    assert home(other.pk) == "customers_interaction_default"
    assert partitions.ensure_ahead(1, today=dt.date(2032, 6, 20)) == []  # idempotent
    assert keys() == keyed_rows()
    # The moved row's message id is still taken, from any month.
    with pytest.raises(IntegrityError), transaction.atomic():
        InteractionFactory(occurred_at=at(2032, 9), source=source, message_id="m-1")

    assert partitions.absorb_default() == ["customers_interaction_2032_09"]
    assert home(other.pk) == "customers_interaction_2032_09"
    assert partitions.default_months() == []


def test_a_replayed_message_id_is_rejected_whatever_its_time(postgres_only):
    source = SourceFactory()
    now = timezone.now()
    kept = InteractionFactory(occurred_at=now, source=source, message_id="evt-1")

    for occurred_at in (now - dt.timedelta(days=400), now + dt.timedelta(days=40), at(2040, 1)):
        with pytest.raises(IntegrityError), transaction.atomic():
            InteractionFactory(occurred_at=occurred_at, source=source, message_id="evt-1")
    # Empty ids, other sources and no source are never unique.
    InteractionFactory(occurred_at=now, source=SourceFactory(), message_id="evt-1")
    InteractionFactory(occurred_at=now, source=source, message_id="")
    InteractionFactory(occurred_at=now, source=source, message_id="")
    InteractionFactory(occurred_at=now, message_id="")

    customer = kept.customer
    replay, created = record_interaction(
        customer=customer,
        type="track",
        channel="web",
        name="Replayed",
        source=source,
        message_id="evt-1",
        occurred_at=now - dt.timedelta(days=400),
    )
    assert (replay.pk, created) == (kept.pk, False)

    rows = [
        build_interaction(type="track", channel="web", source=source, message_id=m, occurred_at=t)
        for m, t in (("evt-2", now), ("evt-1", now - dt.timedelta(days=90)))
    ]
    for row in rows:
        row.customer = customer
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_many(rows)
    assert not Interaction.objects.filter(message_id="evt-2").exists()
    assert keys() == keyed_rows()


def test_the_tracking_api_ignores_a_replay_sent_with_another_timestamp(client, source_key):
    token = base64.b64encode(f"{source_key[1]}:".encode()).decode()

    def track(timestamp: str) -> dict:
        body = {"anonymousId": "a1", "event": "Paid", "messageId": "m-7", "timestamp": timestamp}
        response = client.post(
            "/ingest/v1/track",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Basic {token}",
        )
        assert response.status_code == 200, response.content
        return response.json()

    track(timezone.now().isoformat())
    track((timezone.now() - dt.timedelta(days=200)).isoformat())
    assert Interaction.objects.filter(message_id="m-7").count() == 1


def test_the_orm_gets_filters_updates_and_deletes_by_pk(postgres_only):
    source = SourceFactory()
    now = timezone.now()
    row = InteractionFactory(occurred_at=now, source=source, message_id="a")
    assert Interaction.objects.get(pk=row.pk).message_id == "a"
    assert list(Interaction.objects.filter(pk__in=[row.pk]).values_list("pk", flat=True)) == [
        row.pk
    ]

    # A new time in another month moves the row to that partition; its id and key stay.
    Interaction.objects.filter(pk=row.pk).update(occurred_at=now - dt.timedelta(days=62))
    row.refresh_from_db()
    assert home(row.pk) != f"customers_interaction_{now:%Y_%m}"
    row.summary = "changed"
    row.save()
    assert Interaction.objects.get(pk=row.pk).summary == "changed"
    assert keys() == keyed_rows() == {(source.pk, "a")}

    # Changing the message id swaps the key; both moves at once too.
    Interaction.objects.filter(pk=row.pk).update(message_id="b")
    assert keys() == {(source.pk, "b")}
    Interaction.objects.filter(pk=row.pk).update(message_id="c", occurred_at=now)
    assert keys() == {(source.pk, "c")}
    InteractionFactory(occurred_at=now, source=source, message_id="a")  # "a" is free again

    Interaction.objects.filter(pk=row.pk).delete()
    assert not Interaction.objects.filter(pk=row.pk).exists()
    assert keys() == keyed_rows() == {(source.pk, "a")}


def test_ids_stay_unique_across_partitions(postgres_only):
    rows = [InteractionFactory(occurred_at=at(year, 5)) for year in (2024, 2025, 2026, 2040)]
    assert len({row.pk for row in rows}) == 4
    assert Interaction.objects.filter(pk=rows[0].pk).count() == 1


def test_deleting_a_customer_deletes_their_interactions_and_frees_the_ids(postgres_only):
    source = SourceFactory()
    customer = CustomerFactory()
    InteractionFactory(customer=customer, source=source, message_id="x", occurred_at=at(2025, 2))
    customer.delete()
    assert not Interaction.objects.exists()
    assert keys() == set()


def test_a_merge_moves_interactions_across_partitions(postgres_only):
    survivor, duplicate = CustomerFactory(), CustomerFactory()
    for month in (1, 6, 11):
        InteractionFactory(customer=duplicate, occurred_at=at(2025, month))
    InteractionFactory(customer=survivor, occurred_at=timezone.now())

    merge(survivor=survivor, duplicate=duplicate)

    assert Interaction.objects.filter(customer=survivor).count() == 4
    assert not Interaction.objects.filter(customer=duplicate).exists()
    assert len(selectors.timeline(survivor).items) == 4


def test_detaching_old_months_keeps_them_as_plain_tables_off_the_timeline(
    postgres_only, monkeypatch
):
    monkeypatch.setattr(partitions, "KEY_BATCH", 2)  # keys are released in several batches
    source = SourceFactory()
    customer = CustomerFactory()
    for month in (1, 2, 3, 4):
        partitions.create_month(dt.date(2021, month, 1))
        InteractionFactory(
            customer=customer, occurred_at=at(2021, month), source=source, message_id=f"m{month}"
        )
    for n in range(3):
        InteractionFactory(occurred_at=at(2021, 1, 2 + n), source=source, message_id=f"j{n}")
    assert len(selectors.timeline(customer).items) == 4
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # as if the rows had been committed

    detached = partitions.detach_before(dt.date(2021, 3, 1))

    assert detached == ["customers_interaction_2021_01", "customers_interaction_2021_02"]
    page = selectors.timeline(customer)
    assert [row.occurred_at.month for row in page.items] == [4, 3]
    names = {p.name for p in partitions.partitions()}
    assert not names & set(detached)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_interaction_2021_01")
        assert cursor.fetchone()[0] == 4
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = "
            "'customers_interaction_2021_01'::regclass AND contype = 'f'"
        )
        assert cursor.fetchone()[0] == 0
    assert keys() == keyed_rows() == {(source.pk, "m3"), (source.pk, "m4")}
    assert partitions.detach_before(dt.date(2021, 3, 1)) == []
    # The archive holds no reference: the customer can still be deleted.
    Customer.objects.filter(pk=customer.pk).delete()
    with pytest.raises(ValueError, match="before the current"):
        partitions.detach_before(partitions.add_months(partitions.month_of(timezone.now()), 1))


def test_the_command_creates_lists_and_detaches(postgres_only):
    out = StringIO()
    call_command("interaction_partitions", "--ahead", "5", stdout=out)
    this_month = partitions.month_of(timezone.now())
    fifth = partitions.add_months(this_month, 5)
    assert f"created customers_interaction_{fifth:%Y_%m}" in out.getvalue()
    out = StringIO()
    call_command("interaction_partitions", "--list", stdout=out)
    assert f"{fifth:%Y-%m}" in out.getvalue()
    assert "DEFAULT" in out.getvalue()
    partitions.create_month(dt.date(2019, 6, 1))
    out = StringIO()
    call_command("interaction_partitions", "--detach-before", "2019-07", stdout=out)
    assert "detached customers_interaction_2019_06" in out.getvalue()
    with pytest.raises(Exception, match="YYYY-MM"):
        call_command("interaction_partitions", "--detach-before", "June", stdout=StringIO())


def test_the_daily_task_creates_the_months_ahead(postgres_only):
    with connection.cursor() as cursor:
        this_month = partitions.month_of(timezone.now())
        last = partitions.add_months(this_month, partitions.DEFAULT_AHEAD)
        cursor.execute(f"DROP TABLE customers_interaction_{last:%Y_%m}")
    assert ensure_partitions.apply().get() == [f"customers_interaction_{last:%Y_%m}"]
    assert ensure_partitions.apply().get() == []


def test_the_admin_lists_interactions_from_every_partition(admin_client):
    customer = CustomerFactory()
    rows = [InteractionFactory(customer=customer, occurred_at=at(y, 3)) for y in (2024, 2026)]
    response = admin_client.get(reverse("admin:customers_interaction_changelist"))
    assert response.status_code == 200
    assert {row.pk for row in response.context["cl"].result_list} >= {row.pk for row in rows}
    change = reverse("admin:customers_interaction_change", args=[rows[0].pk])
    assert admin_client.get(change).status_code == 200


def test_the_migration_reverses_to_a_plain_table_and_back(postgres_only):
    source = SourceFactory()
    kept = InteractionFactory(occurred_at=at(2025, 5), source=source, message_id="k")
    InteractionFactory(occurred_at=at(2045, 5))  # in DEFAULT
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending trigger events on ALTER
    executor = MigrationExecutor(connection)
    executor.migrate([("customers", "0011_privacy")])

    assert not partitions.supported()
    assert Interaction.objects.count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():
        InteractionFactory(occurred_at=at(2025, 1), source=source, message_id="k")
    after = InteractionFactory(occurred_at=timezone.now())
    assert after.pk > kept.pk

    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert partitions.supported()
    assert Interaction.objects.count() == 3
    assert home(kept.pk) == "customers_interaction_2025_05"
    assert keys() == {(source.pk, "k")}
    with pytest.raises(IntegrityError), transaction.atomic():
        InteractionFactory(occurred_at=at(2026, 1), source=source, message_id="k")
    assert InteractionFactory(occurred_at=timezone.now()).pk > after.pk
