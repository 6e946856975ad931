"""`make serve`'s server for real: gunicorn with config/gunicorn.conf.py and DJANGO_DEBUG=0
serves the probes, a static file (WhiteNoise) and metrics summed over its two workers."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.common import BENCH_ENCRYPTION_KEY

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TOKEN = "gunicorn-test-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "DJANGO_", "CELERY_", "REDIS_", "DATABASE_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="0",
        SECRET_KEY="gunicorn-test-secret",
        CRM_ENCRYPTION_KEYS=BENCH_ENCRYPTION_KEY,
        ALLOWED_HOSTS="crm.example.com",
        VAR_DIR=str(root / "var"),
        DATABASE_URL=f"sqlite:///{root / 'db.sqlite3'}",
        METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(root / "metrics"),
        WEB_WORKERS="2",
        WEB_BIND=f"127.0.0.1:{free_port()}",
    )
    subprocess.run(
        [BIN / "python", "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    (root / "metrics").mkdir()
    (root / "metrics" / "stale_1.db").write_bytes(b"left by an earlier run")
    log = (root / "gunicorn.log").open("w+")
    process = subprocess.Popen(
        [BIN / "gunicorn", "config.wsgi", "--config", "config/gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    port = int(env["WEB_BIND"].rsplit(":", 1)[1])
    deadline = time.monotonic() + 60
    while True:
        try:
            if get(port, "/healthz")[0] == 200:
                break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            pytest.fail(f"gunicorn did not start:\n{log.read()[-3000:]}")
        time.sleep(0.2)
    yield port, root, log
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    log.close()


def test_healthz_over_plain_http_by_ip(server):
    port, _root, _log = server
    status, headers, body = get(port, "/healthz", **{"X-Request-ID": "probe-1"})
    assert status == 200
    assert json.loads(body) == {"status": "ok"}
    assert headers["X-Request-ID"] == "probe-1"


def test_a_static_file_is_served_by_whitenoise_with_a_long_cache_for_hashed_names(server):
    port, root, _log = server
    manifest = json.loads((root / "var" / "static" / "staticfiles.json").read_text())
    hashed = manifest["paths"]["admin/css/base.css"]
    https = {"Host": "crm.example.com", "X-Forwarded-Proto": "https"}
    status, headers, body = get(port, f"/static/{hashed}", **https)
    assert status == 200
    assert b"body" in body
    assert headers["Content-Type"].startswith("text/css")
    assert "immutable" in headers["Cache-Control"]
    # The site itself still sends plain HTTP to HTTPS.
    status, headers, _body = get(port, "/static/admin/css/base.css", Host="crm.example.com")
    assert status == 301
    assert headers["Location"].startswith("https://")


def test_metrics_add_up_every_workers_requests(server):
    port, root, _log = server
    assert not (root / "metrics" / "stale_1.db").exists()  # emptied at start
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def healthz_count() -> float:
        status, _headers, body = get(port, "/metrics", **auth)
        assert status == 200
        for line in body.decode().splitlines():
            if line.startswith("crm_http_requests_total{") and 'route="healthz"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = healthz_count()
    for _ in range(20):  # new connections: both workers take some
        assert get(port, "/healthz")[0] == 200
    assert healthz_count() == before + 20
    assert get(port, "/metrics")[0] == 401


def test_access_log_lines_are_json_with_the_request_id(server):
    port, _root, log = server
    get(port, "/healthz", **{"X-Request-ID": "access-line-1"})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        log.seek(0)
        lines = [json.loads(line) for line in log if line.startswith("{")]
        access = [line for line in lines if line.get("request_id") == "access-line-1"]
        if access:
            break
        time.sleep(0.2)
    (line,) = access
    assert line["logger"] == "gunicorn.access"
    assert line["status"] == 200
    assert line["path"] == "/healthz"
    assert line["method"] == "GET"
