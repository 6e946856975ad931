"""/healthz and /readyz: what a load balancer or an orchestrator sees."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.utils import timezone

from customers.tasks import HEARTBEAT_KEY

CLOSED_BROKER = {
    # Nothing listens on port 1: the connection is refused at once.
    "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
    "CELERY_BROKER_TRANSPORT": None,
    "CELERY_BROKER_TRANSPORT_OPTIONS": {},
}


def beat(seconds_ago: float) -> None:
    cache.set(HEARTBEAT_KEY, (timezone.now() - dt.timedelta(seconds=seconds_ago)).isoformat())


@pytest.mark.django_db
def test_healthz_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_200_with_each_check_when_all_is_well(client):
    beat(seconds_ago=30)
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "heartbeat"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["heartbeat"]["age_seconds"] == pytest.approx(30, abs=5)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("seconds_ago", "code"), [(None, "heartbeat_missing"), (600, "heartbeat_stale")]
)
def test_readyz_is_503_naming_the_heartbeat_when_beat_is_gone(client, seconds_ago, code):
    if seconds_ago is not None:
        beat(seconds_ago)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "not_ready"
    assert "heartbeat" in body["message"]
    assert body["failing"] == ["heartbeat"]
    assert body["checks"]["heartbeat"]["code"] == code
    assert body["checks"]["heartbeat"]["message"]
    assert body["checks"]["database"]["ok"]
    assert body["checks"]["broker"]["ok"]


@pytest.mark.django_db
def test_the_heartbeat_age_limit_is_a_setting(client, settings):
    settings.READYZ_HEARTBEAT_MAX_AGE = 20
    beat(seconds_ago=30)
    assert client.get("/readyz").json()["checks"]["heartbeat"]["code"] == "heartbeat_stale"
    settings.READYZ_HEARTBEAT_MAX_AGE = 60
    assert client.get("/readyz").status_code == 200


@pytest.mark.django_db
def test_readyz_is_503_naming_the_broker_when_nobody_listens(client, settings):
    for name, value in CLOSED_BROKER.items():
        setattr(settings, name, value)
    beat(seconds_ago=1)
    started = timezone.now()
    response = client.get("/readyz")
    assert (timezone.now() - started).total_seconds() < 5
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"]
    assert body["checks"]["broker"]["code"] == "broker_unavailable"
    # The error's detail (hosts, ports) goes to the log, not to whoever probes.
    assert "127.0.0.1" not in response.content.decode()


@pytest.mark.django_db
def test_a_cache_that_does_not_answer_fails_the_heartbeat_check_not_the_probe(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["heartbeat"]["code"] == "heartbeat_unreadable"


@pytest.mark.django_db
def test_skip_leaves_checks_out_and_an_unknown_name_is_a_400(client):
    response = client.get("/readyz?skip=heartbeat")
    assert response.status_code == 200
    assert set(response.json()["checks"]) == {"database", "broker"}
    response = client.get("/readyz?skip=heartbeat,nonsense")
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_check"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_a_post_is_a_json_405(client, settings, path):
    settings.METRICS_TOKEN = "t"
    response = client.post(path)
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.django_db
def test_probes_pass_the_production_middleware_by_ip_over_http(client, settings):
    """A load balancer probes over plain HTTP with the instance's IP as Host: neither the
    HTTPS redirect nor ALLOWED_HOSTS nor two-factor stands in its way; the site still
    redirects and refuses the same request elsewhere."""
    settings.DEBUG = False
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["crm.example.com"]
    settings.STAFF_TWO_FACTOR = True
    beat(seconds_ago=1)
    for path in ("/healthz", "/readyz"):
        response = client.get(path, HTTP_HOST="10.1.2.3:8000")
        assert response.status_code == 200, (path, response.status_code)
    assert client.get("/admin/", HTTP_HOST="10.1.2.3:8000").status_code == 400
    assert client.get("/admin/", HTTP_HOST="crm.example.com").status_code == 301


@pytest.mark.django_db
def test_a_signed_in_staff_session_without_second_factor_still_probes(client, settings):
    from tests.customers.factories import StaffFactory

    settings.STAFF_TWO_FACTOR = True
    client.force_login(StaffFactory(role="Administrator"))
    beat(seconds_ago=1)
    assert client.get("/readyz").status_code == 200
    assert client.get("/admin/").status_code == 302  # to the two-factor page
