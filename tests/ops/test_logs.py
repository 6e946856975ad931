"""Structured logs: the request id, the Celery task and the customer on each JSON line."""

import json
import logging
import time

import pytest

from ops import logs
from ops.middleware import REQUEST_ID_HEADER


class JsonLines(logging.Handler):
    """The lines the production handler would write (the formatter and filter LOGGING uses)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logs.JsonFormatter())
        self.addFilter(logs.ContextFilter())
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        assert "\n" not in text
        self.lines.append(json.loads(text))


@pytest.fixture
def json_lines():
    handler = JsonLines()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler.lines
    root.removeHandler(handler)


@pytest.mark.django_db
def test_a_sane_request_id_is_echoed_and_carried_by_the_requests_log_lines(client, json_lines):
    response = client.get("/readyz", HTTP_X_REQUEST_ID="lb-7f3a.91_x")  # no heartbeat: a 503
    assert response.status_code == 503
    assert response[REQUEST_ID_HEADER] == "lb-7f3a.91_x"
    line = next(line for line in json_lines if line["logger"] == "ops.views")
    assert line["request_id"] == "lb-7f3a.91_x"
    assert line["level"] == "WARNING"
    assert "heartbeat" in line["message"]
    assert {"time", "level", "logger", "message", "request_id"} <= set(line)


@pytest.mark.parametrize("given", [None, "", "x" * 101, "a b", "id\nforged", "ünï"])
def test_a_missing_or_odd_request_id_is_replaced_by_a_new_one(client, given):
    headers = {} if given is None else {"HTTP_X_REQUEST_ID": given}
    first = client.get("/healthz", **headers)[REQUEST_ID_HEADER]
    second = client.get("/healthz", **headers)[REQUEST_ID_HEADER]
    assert len(first) == 32
    assert int(first, 16) >= 0
    assert first != second


@pytest.mark.django_db
def test_djangos_own_line_for_a_refused_request_carries_the_request_id(client, json_lines):
    response = client.get("/api/v1/customers", HTTP_X_REQUEST_ID="req-401")  # no API key
    assert response.status_code == 401
    line = next(line for line in json_lines if line["logger"] == "django.request")
    assert line["request_id"] == "req-401"
    assert line["level"] == "WARNING"


@pytest.mark.django_db
def test_an_api_call_about_one_customer_carries_its_id(api, json_lines):
    public_id = "00000000-0000-0000-0000-000000000042"
    response = api.get(f"/api/v1/customers/{public_id}/timeline", HTTP_X_REQUEST_ID="req-c")
    assert response.status_code == 404
    line = next(line for line in json_lines if line["logger"] == "django.request")
    assert line["request_id"] == "req-c"
    assert line["customer_id"] == public_id
    logging.getLogger("tests.ops").warning("after")  # the request's context is gone
    assert json_lines[-1]["request_id"] is None
    assert "customer_id" not in json_lines[-1]


def test_bind_adds_fields_until_its_context_closes(json_lines):
    logger = logging.getLogger("tests.ops")
    token = logs.open_context(request_id="r1")
    logs.bind(customer_id=42)
    logger.warning("inside")
    logs.close_context(token)
    logger.warning("outside")
    inside, outside = json_lines[-2:]
    assert inside["request_id"] == "r1"
    assert inside["customer_id"] == 42
    assert outside["request_id"] is None
    assert "customer_id" not in outside


def test_an_exception_is_kept_on_its_line(json_lines):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("tests.ops").exception("failed")
    assert "ValueError: boom" in json_lines[-1]["exception"]


def test_log_format_text_keeps_the_plain_lines(settings):
    from django.conf import settings as live

    assert live.LOGGING["handlers"]["console"]["formatter"] == (
        "json" if live.LOG_FORMAT == "json" else "plain"
    )
    assert "ops.logs.ContextFilter" in json.dumps(live.LOGGING["filters"])


@pytest.mark.django_db
def test_an_eager_tasks_lines_carry_its_id_and_name(run_tasks_inline, json_lines):
    from customers.tasks import heartbeat

    result = heartbeat.delay()
    line = next(line for line in json_lines if line["message"].startswith("heartbeat at"))
    assert line["task_id"] == result.id
    assert line["task_name"] == "customers.heartbeat"
    assert line["request_id"] is None


@pytest.mark.xdist_group("celery-broker")
@pytest.mark.django_db(transaction=True)
def test_a_real_workers_task_lines_carry_its_id():
    """Through the configured broker to a real worker (tests/integration/test_celery.py)."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app
    from customers.tasks import heartbeat

    handler = JsonLines()
    app.control.purge()
    with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        # The worker's start configures logging anew (Django's LOGGING): listen after it, on
        # the task's own logger at INFO (a worker started earlier in this process at WARNING
        # leaves the loggers' levels there).
        task_logger = logging.getLogger("customers.tasks")
        task_logger.addHandler(handler)
        level, task_logger.level = task_logger.level, logging.INFO
        try:
            result = heartbeat.delay()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not _heartbeat_lines(handler.lines):
                time.sleep(0.1)
        finally:
            task_logger.removeHandler(handler)
            task_logger.level = level
    app.control.purge()
    (line,) = _heartbeat_lines(handler.lines)
    assert line["task_id"] == result.id
    assert line["task_name"] == "customers.heartbeat"
    assert line["logger"] == "customers.tasks"


def _heartbeat_lines(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["message"].startswith("heartbeat at")]
