"""/metrics: off without a token, refused without the right one, Prometheus text with it."""

import datetime as dt

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

TOKEN = "s3cret-metrics-token"


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return response.content.decode()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_are_off_without_a_token_setting(client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything")
    assert response.status_code == 404
    assert response.json()["code"] == "metrics_disabled"


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"]
)
def test_a_missing_or_wrong_token_is_a_json_401(client, metrics_on, header):
    headers = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = client.get("/metrics", **headers)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_a_staff_session_does_not_open_metrics(client, metrics_on):
    from tests.customers.factories import StaffFactory

    client.force_login(StaffFactory(role="Administrator"))
    assert client.get("/metrics").status_code == 401


@pytest.mark.django_db
def test_the_scrape_reports_the_database_gauges_in_a_bounded_number_of_queries(
    client, metrics_on, django_assert_max_num_queries
):
    from campaigns.models import Campaign, CampaignRun, Segment
    from channels.models import Message
    from journeys.models import Enrollment, Journey
    from tests.channels.factories import MessageFactory
    from tests.customers.factories import CustomerFactory

    now = timezone.now()
    MessageFactory.create_batch(3)  # sent
    MessageFactory(status=Message.Status.QUEUED, not_before=now - dt.timedelta(seconds=120))
    MessageFactory(status=Message.Status.QUEUED, not_before=now + dt.timedelta(hours=1))
    journey = Journey.objects.order_by("pk").first()
    for minutes in (-5, 30):
        Enrollment.objects.create(
            journey=journey,
            customer=CustomerFactory(),
            next_run_at=now + dt.timedelta(minutes=minutes),
        )
    segment = Segment.objects.create(name="All", rules={"all": []}, kind=Segment.Kind.STATIC)
    campaign = Campaign.objects.create(name="Sale", segment=segment, channels=["email"])
    CampaignRun.objects.create(campaign=campaign)
    CampaignRun.objects.create(campaign=campaign, status=CampaignRun.Status.DONE)

    with django_assert_max_num_queries(4):
        text = scrape(client)
    assert 'crm_messages{status="sent"} 3.0' in text
    assert 'crm_messages{status="queued"} 2.0' in text
    assert 'crm_messages{status="bounced"} 0.0' in text
    (age,) = [
        float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("crm_queue_oldest_due_message_age_seconds ")
    ]
    assert 119 <= age < 200
    assert "crm_journey_enrollments_due 1.0" in text
    assert "crm_campaign_runs_sending 1.0" in text
    assert 'crm_metrics_source_up{source="database"} 1.0' in text
    for name in (
        "crm_http_requests_total",
        "crm_http_request_duration_seconds_bucket",
        "crm_ingest_events_accepted_total",
    ):
        assert f"# TYPE {name.removesuffix('_total').removesuffix('_bucket')}" in text


@pytest.mark.django_db
def test_requests_are_counted_by_route_and_status_class(client, metrics_on):
    before_ok = sample("crm_http_requests_total", method="GET", route="healthz", status="2xx")
    before_404 = sample("crm_http_requests_total", method="GET", route="unmatched", status="4xx")
    before_hist = sample("crm_http_request_duration_seconds_count", route="healthz")
    client.get("/healthz")
    client.get("/healthz")
    client.get("/no-such-page-at-all/")
    text = scrape(client)
    assert sample("crm_http_requests_total", method="GET", route="healthz", status="2xx") == (
        before_ok + 2
    )
    assert sample("crm_http_requests_total", method="GET", route="unmatched", status="4xx") == (
        before_404 + 1
    )
    assert sample("crm_http_request_duration_seconds_count", route="healthz") == before_hist + 2
    assert 'route="healthz"' in text


@pytest.mark.django_db
def test_accepted_tracking_events_are_counted_by_call(api, client, metrics_on):
    track = sample("crm_ingest_events_accepted_total", call="track")
    batch = sample("crm_ingest_events_accepted_total", call="batch")
    rejected = sample("crm_ingest_events_rejected_total", call="batch")
    event = {"userId": "u-1", "event": "Product Viewed", "properties": {"sku": "A"}}
    assert api.post("/ingest/v1/track", event, format="json").status_code == 200
    assert api.post("/ingest/v1/track", {"nonsense": 1}, format="json").status_code == 400
    body = {
        "batch": [
            {**event, "type": "track", "messageId": "m-1"},
            {**event, "type": "track", "messageId": "m-2"},
            {"type": "track"},  # no user: rejected
        ]
    }
    response = api.post("/ingest/v1/batch", body, format="json")
    assert response.status_code == 200
    assert response.json()["accepted"] == 2
    assert sample("crm_ingest_events_accepted_total", call="track") == track + 1
    assert sample("crm_ingest_events_accepted_total", call="batch") == batch + 2
    assert sample("crm_ingest_events_rejected_total", call="batch") == rejected + 1
    assert 'crm_ingest_events_accepted_total{call="track"}' in scrape(client)


def test_queue_names_come_from_the_settings_read_at_scrape_time(settings):
    from kombu import Queue

    from ops.metrics import celery_queue_names

    settings.CELERY_TASK_DEFAULT_QUEUE = "main"
    settings.CELERY_TASK_QUEUES = [Queue("main"), Queue("bulk")]
    settings.CELERY_TASK_ROUTES = [
        {"channels.deliver_*": {"queue": "delivery"}, "x.y": "other"},
        "config.queues.route",
    ]
    assert celery_queue_names() == ["bulk", "delivery", "main", "other"]


@pytest.mark.django_db
def test_a_redis_broker_reports_each_queue_length(client, metrics_on, settings):
    import redis

    url = "redis://127.0.0.1:6379/2"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("needs Redis on 127.0.0.1:6379 (CI's PostgreSQL pass has it)")
    settings.CELERY_BROKER_URL = url
    settings.CELERY_TASK_DEFAULT_QUEUE = "ops-test-default"
    settings.CELERY_TASK_QUEUES = None
    settings.CELERY_TASK_ROUTES = {"any.task": {"queue": "ops-test-bulk"}}
    r = redis.Redis.from_url(url)
    r.delete("ops-test-default", "ops-test-bulk")
    r.rpush("ops-test-bulk", "a", "b", "c")
    try:
        text = scrape(client)
    finally:
        r.delete("ops-test-bulk")
    assert 'crm_celery_queue_length{queue="ops-test-bulk"} 3.0' in text
    assert 'crm_celery_queue_length{queue="ops-test-default"} 0.0' in text
    assert 'crm_metrics_source_up{source="broker"} 1.0' in text


@pytest.mark.django_db
def test_a_broker_that_does_not_answer_is_reported_not_a_failed_scrape(
    client, metrics_on, settings
):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    text = scrape(client)
    assert 'crm_metrics_source_up{source="broker"} 0.0' in text
