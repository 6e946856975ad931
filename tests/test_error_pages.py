"""Django's own error pages (raised before any view) answer machines in JSON, people in HTML."""

import pytest
from django.test import RequestFactory

from customers.api import errors

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/customers", "/ingest/track", "/hooks/1/status"])
def test_a_bad_host_header_gets_a_json_400_on_machine_paths(client, path):
    response = client.get(path, HTTP_HOST="Hnl:")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "bad_host"


def test_a_bad_host_header_gets_the_html_page_elsewhere(client):
    response = client.get("/admin/", HTTP_HOST="Hnl:")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


def test_unknown_paths_under_ingest_answer_json(client):
    response = client.get("/ingest/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "No such endpoint."}
    assert client.get("/nothing-here").headers["Content-Type"].startswith("text/html")


def test_a_crash_on_a_machine_path_answers_json():
    request = RequestFactory().get("/api/v1/customers")
    response = errors.server_error(request)
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert errors.server_error(RequestFactory().get("/admin/")).status_code == 500
    forbidden = errors.permission_denied(request, PermissionError())
    assert (forbidden.status_code, forbidden["Content-Type"]) == (403, "application/json")
