import pytest
from django.db import connection


@pytest.fixture
def postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks); runs in CI's PostgreSQL pass")


def pytest_report_header(config):
    from django.conf import settings

    db = settings.DATABASES["default"]
    return (
        f"database: {db['ENGINE'].rsplit('.', 1)[-1]} {db.get('NAME')}; broker: "
        + (settings.CELERY_BROKER_URL.split("@")[-1])
    )


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The migrated test database; its role groups are remembered before any transactional
    test flushes them (tests/e2e/roles.py puts them back for the browser tests)."""
    from tests.e2e import roles

    with django_db_blocker.unblock():
        roles.remember()


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the default language: the locale middleware activates a request's
    language in the test's thread and nothing switches it back after the response."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def isolated_cache(settings):
    """Throttle counters and heartbeats must not leak between tests or xdist workers."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    from django.core.cache import cache

    from channels import policy

    cache.clear()
    policy.forget_caps()  # caps are cached per process; each test starts from its own rows
    from journeys import engine

    engine.forget()


@pytest.fixture
def source_key(db):
    """A web source and a plaintext key with every scope: (source, key)."""
    from customers import apikeys
    from tests.customers.factories import SourceFactory

    source = SourceFactory(name="Web shop", kind="web")
    _, raw = apikeys.create_key(source)
    return source, raw


@pytest.fixture
def api(source_key):
    """A DRF test client authenticated with the source key as a Bearer token."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {source_key[1]}")
    client.source = source_key[0]
    return client


@pytest.fixture
def run_tasks_inline():
    """Run Celery tasks in-process (tests of task logic, not of Celery itself: tests/integration
    runs a real worker). Pair with django_capture_on_commit_callbacks(execute=True)."""
    from config.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False
