"""schemathesis drives every operation of /api/schema/ with generated input: no 5xx, and every
documented response matches its schema — with a key holding every scope, with a key of each
scope alone (a 403 for a missing scope is a documented answer) and with no key at all."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from customers.models import ApiKey

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """The WSGI handler closes a connection whose autocommit differs from the settings at the
    end of each request, which inside a test transaction is always; Django's test Client
    unhooks that signal for its requests, and so do we for schemathesis' WSGI calls."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_answers_every_generated_request_within_its_schema(case, source_key):
    case.call_and_validate(headers={"Authorization": f"Bearer {source_key[1]}"}, checks=CHECKS)


@pytest.fixture(params=[*ApiKey.Scope.values, None], ids=lambda scope: scope or "no-key")
def caller(request, db):
    """Headers of a key holding one scope alone (``None``: no key at all)."""
    if request.param is None:
        return {}
    from customers import apikeys
    from tests.customers.factories import SourceFactory

    _key, raw = apikeys.create_key(SourceFactory(name="Scoped shop"), scopes=[request.param])
    return {"Authorization": f"Bearer {raw}"}


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_each_scope_alone_and_no_key_get_documented_answers_and_never_a_5xx(case, caller):
    case.call_and_validate(headers=caller, checks=CHECKS)
