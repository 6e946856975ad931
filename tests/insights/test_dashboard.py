"""The dashboard page: who may open it, the filters, bad input, the CSV exports and its bounded
number of queries."""

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from commerce.models import Cart
from customers.models import Interaction
from insights.dashboard import FIGURES
from tests.customers.factories import CustomerFactory, StaffFactory
from tests.insights.fixtures import cart, case, order, touch

pytestmark = pytest.mark.django_db
URL = "/admin/insights/dashboard/"


@pytest.fixture
def manager(client):
    client.force_login(StaffFactory(role="Marketing"))
    return client


def recent(days=1):
    return timezone.now() - dt.timedelta(days=days)


def some_data(n):
    for i in range(n):
        customer = CustomerFactory()
        touch(customer, at=recent(2), channel="app")
        touch(customer, at=recent(2), channel="email", direction=Interaction.Direction.OUTBOUND)
        order(customer, at=recent(1), channel="web", total=f"{10 + i}.00")
        cart(created=recent(3), lines=[("web", 0)], status=Cart.Status.CONVERTED, order_total="5")
        case(opened=recent(2), wait=dt.timedelta(minutes=5 + i), csat=1 + i % 5, answered=recent(1))


def test_the_url_is_the_admins_insights_dashboard():
    assert reverse("admin:insights_dashboard") == URL


def test_a_manager_sees_every_figure_with_its_chart_and_export(manager):
    some_data(3)
    page = manager.get(URL)
    assert page.status_code == 200
    text = page.content.decode()
    for figure in FIGURES:
        assert f'id="figure-{figure.key}"' in text
        assert f"export={figure.key}" in text
    assert text.count('class="crm-insights-chart"') == len(FIGURES)
    assert '<title id="chart-csat-title">' in text
    assert 'role="img"' in text
    assert "100.0%" in text  # the 3 carts all converted


def test_the_admin_index_links_the_dashboard_for_those_who_may_open_it(client):
    client.force_login(StaffFactory(role="Marketing"))
    assert URL in client.get(reverse("admin:index")).content.decode()
    client.force_login(StaffFactory(role="Support agent"))
    assert URL not in client.get(reverse("admin:index")).content.decode()


@pytest.mark.parametrize(("role", "status"), [("Support agent", 403), ("Marketing", 200),
                                              ("Administrator", 200)])  # fmt: skip
def test_who_may_open_the_dashboard(client, role, status):
    client.force_login(StaffFactory(role=role))
    assert client.get(URL).status_code == status
    assert client.get(URL, {"export": "orders"}).status_code == status


def test_the_permission_alone_opens_it(client):
    user = StaffFactory()
    user.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    client.force_login(user)
    assert client.get(URL).status_code == 200


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    page = client.get(URL)
    assert page.status_code == 302
    assert "/admin/login/" in page["Location"]


def test_the_period_and_channel_filter_the_figures(manager):
    buyer = CustomerFactory()
    order(buyer, at=timezone.now() - dt.timedelta(days=40), channel="store", total="70.00")
    order(buyer, at=recent(), channel="web", total="30.00")
    default = manager.get(URL).context["figures"]
    orders = next(f for f in default if f["key"] == "orders")
    assert orders["headline"] == "1"  # the last 30 days by default
    today = timezone.localdate()
    wide = manager.get(URL, {"start": str(today - dt.timedelta(days=60)), "end": str(today)})
    assert next(f for f in wide.context["figures"] if f["key"] == "orders")["headline"] == "2"
    store = manager.get(URL, {"start": str(today - dt.timedelta(days=60)), "channel": "store"})
    assert next(f for f in store.context["figures"] if f["key"] == "orders")["headline"] == "1"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "yesterday"}, "Enter a valid date."),
        ({"start": "2025-03-10", "end": "2025-03-01"}, "must start on or before"),
        ({"start": "2020-01-01", "end": "2025-01-01"}, "at most 731 days"),
        ({"channel": "pigeon"}, "Select a valid choice."),
    ],
)
def test_bad_filter_input_is_shown_on_the_form(manager, query, message):
    page = manager.get(URL, query)
    assert page.status_code == 200
    assert message in page.content.decode()
    assert page.context["figures"] == []
    export = manager.get(URL, {**query, "export": "orders"})
    assert export.status_code == 400
    assert message in export.content.decode()


def test_an_unknown_export_is_a_clear_400(manager):
    page = manager.get(URL, {"export": "weather"})
    assert page.status_code == 400
    assert "Unknown figure: weather" in page.content.decode()


def test_each_figure_exports_as_csv(manager):
    buyer = CustomerFactory()
    order(buyer, at=dt.datetime(2025, 3, 5, 10, tzinfo=dt.UTC), channel="web", total="30.00")
    order(buyer, at=dt.datetime(2025, 3, 6, 10, tzinfo=dt.UTC), channel="store", total="12.50")
    query = {"start": "2025-03-01", "end": "2025-03-31", "export": "orders"}
    response = manager.get(URL, query)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="insights-orders-2025-03-01-2025-03-31.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        ["channel", "orders", "revenue"],
        ["store", "1", "12.50"],
        ["web", "1", "30.00"],
    ]
    web = manager.get(URL, {**query, "channel": "web"})
    assert web["Content-Disposition"].endswith('-2025-03-31-web.csv"')
    for figure in FIGURES:
        response = manager.get(URL, {**query, "export": figure.key})
        assert response.status_code == 200, figure.key
        header = next(csv.reader(io.StringIO(response.content.decode())))
        assert header, figure.key


def test_the_page_reads_right_to_left_in_persian(manager, settings):
    some_data(2)
    manager.cookies[settings.LANGUAGE_COOKIE_NAME] = "fa"
    page = manager.get(URL)
    assert page.status_code == 200
    text = page.content.decode()
    assert 'dir="rtl"' in text
    assert "crm-insights-chart" in text


@pytest.mark.parametrize("customers", [1, 12])
def test_the_dashboard_takes_a_bounded_number_of_queries(
    manager, customers, django_assert_max_num_queries
):
    some_data(customers)
    with django_assert_max_num_queries(30):
        assert manager.get(URL).status_code == 200
    with django_assert_max_num_queries(30):
        assert manager.get(URL, {"channel": "web"}).status_code == 200
