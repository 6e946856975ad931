"""What the benchmarks share: which PostgreSQL database they may drop and making it anew, seeding
it by COPY, and a Celery worker of their own, warmed up before any clock starts."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

DEFAULT_BENCH_URL = "postgres://postgres@127.0.0.1:5432/crm_bench"
POSTGRES_SCHEMES = ("postgres://", "postgresql://", "pgsql://")


def bench_database_url(suffix: str = "bench") -> str:
    """The PostgreSQL database this run may drop (see the module docstring)."""
    if explicit := os.environ.get("BENCH_DATABASE_URL"):
        return explicit
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(POSTGRES_SCHEMES):
        base, _, query = url.partition("?")
        server, _, name = base.rpartition("/")
        name = name if name.endswith(suffix) else f"{name or 'crm'}_{suffix}"
        return f"{server}/{name}" + (f"?{query}" if query else "")
    return DEFAULT_BENCH_URL.replace("crm_bench", f"crm_{suffix}")


def recreate_database(url: str) -> str | None:
    """Drop and create the database; None when done, else why PostgreSQL was not usable."""
    import dj_database_url
    import psycopg
    from psycopg import sql

    if not url.startswith(POSTGRES_SCHEMES):
        return f"BENCH_DATABASE_URL is not a PostgreSQL URL: {url.split('://')[0]}://…"
    db = dj_database_url.parse(url)
    params = {
        "dbname": "postgres",
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "connect_timeout": 5,
    }
    try:
        with psycopg.connect(autocommit=True, **{k: v for k, v in params.items() if v}) as conn:
            name = sql.Identifier(db["NAME"])
            try:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            except psycopg.errors.SyntaxError:  # PostgreSQL < 13
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(name))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    except psycopg.OperationalError as exc:
        return str(exc).strip().splitlines()[0]
    return None


def postgres_missing(name: str, problem: str, *, check: bool) -> int:
    """Say why the ``name`` benchmark cannot run; its exit status: 0 under --check (a machine
    without PostgreSQL is not a regression), 2 otherwise."""
    print(f"{name} benchmark: PostgreSQL is not reachable ({problem})")
    print("skipped: needs PostgreSQL (set BENCH_DATABASE_URL or DATABASE_URL=postgres://…)")
    return 0 if check else 2


# Production settings refuse to start without an encryption key (security.E001); benchmarks
# store no real secret, so a fixed, public one does.
BENCH_ENCRYPTION_KEY = "YmVuY2gtb25seS1lbmNyeXB0aW9uLWtleS0zMmJ5dGU="


def worker_env(url: str, root: Path) -> dict[str, str]:
    """The environment of a benchmark that runs Celery workers: its database, a queue of its
    own, production-like settings, no send window (it measures work, not the clock), and
    Redis as broker and cache when it answers on 127.0.0.1:6379."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "WARNING",
        "DJANGO_DEBUG": "0",
        "SECRET_KEY": "bench-only-secret",
        "CRM_ENCRYPTION_KEYS": BENCH_ENCRYPTION_KEY,
        "CELERY_TASK_DEFAULT_QUEUE": f"bench-{uuid.uuid4().hex[:8]}",
        "DELIVERY_SEND_WINDOW": "",
        "VAR_DIR": str(root / "var" / "bench"),
    }
    if redis_answers():
        env.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
        env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    return env


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def wait_until(done: Callable[[], bool], seconds: float, what: str, every: float = 0.02) -> float:
    """Poll ``done`` every ``every`` seconds; the time it first held (exit on timeout)."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(every)
    return time.perf_counter()


def copy_rows(cursor: Any, table: str, columns: str, rows: Iterable[Sequence[Any]]) -> None:
    """``COPY table (columns) FROM STDIN`` of Python tuples, on a psycopg cursor."""
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def start_worker(env: dict[str, str], root: Path, processes: int = 2) -> subprocess.Popen[bytes]:
    """A Celery worker with ``processes`` prefork processes on the run's own queues (without
    -Q a worker consumes every queue under the run's CELERY_TASK_DEFAULT_QUEUE prefix,
    config/queues.py), with the benchmarks' no-op task; quiet (its banner is not the
    benchmark's output)."""
    return subprocess.Popen(
        [
            str(root / ".venv/bin/celery"), "-A", "config", "worker", "--include", "bench.tasks",
            "--concurrency", str(processes),
            "--pool", "prefork", "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--loglevel", "WARNING",
        ],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def worker_ready(processes: int = 2) -> None:
    """Wait until the worker is up and each process has imported everything: a clock started
    after this measures work, not a worker booting. Needs Django set up."""
    from django.core.cache import cache

    from bench.tasks import NOOP_COUNTER, noop

    tasks = processes * 4
    cache.set(NOOP_COUNTER, 0, timeout=None)
    for _ in range(tasks):
        noop.delay()
    wait_until(lambda: cache.get(NOOP_COUNTER) == tasks, 120, "the worker")


def timings_ms(*calls: Callable[[], Any], runs: int, warmup: int = 3) -> list[list[float]]:
    """Milliseconds of ``runs`` calls of each, interleaved so that load from other processes
    on the machine falls on all of them alike."""
    for _ in range(warmup):
        for call in calls:
            call()
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(runs):
        for call, times in zip(calls, samples, strict=True):
            started = time.perf_counter()
            call()
            times.append((time.perf_counter() - started) * 1000)
    return samples


def describe(times: list[float]) -> str:
    return f"median {statistics.median(times):.2f} ms, min {min(times):.2f} ms, {len(times)} runs"
