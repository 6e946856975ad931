"""gunicorn settings for `make serve`, read from the environment (docs/operations.md).

WEB_BIND     where to listen (default 127.0.0.1:8000; 0.0.0.0:8000 in a container)
WEB_WORKERS  worker processes (default 2 × cores + 1, at most 8: each holds a database
             connection, and more than 8 sync workers per host rarely helps a CRM's load)
LOG_FORMAT   json (default with DJANGO_DEBUG=0): gunicorn's own and access log lines become
             JSON objects through ops.logs.JsonFormatter, like the application's
PROMETHEUS_MULTIPROC_DIR  the workers' metric files: emptied at start, a dead worker's merged
"""

import glob
import multiprocessing
import os


def _envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "")
    return default if value == "" else value.strip().lower() in {"1", "true", "yes", "on"}


bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_WORKERS") or min(2 * multiprocessing.cpu_count() + 1, 8))
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = timeout
accesslog = "-"
errorlog = "-"
# %(M)s is the duration in ms; the request id is the one RequestContextMiddleware answered.
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s" request_id=%({x-request-id}o)s'

_debug = _envbool("DJANGO_DEBUG", True)
if (os.environ.get("LOG_FORMAT") or ("text" if _debug else "json")) == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "ops.logs.JsonFormatter"}},
        "handlers": {
            "error_console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            },
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        },
    }


def on_starting(server) -> None:  # type: ignore[no-untyped-def]
    """Counters start at zero: the metric files of an earlier run are removed."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
        for name in glob.glob(os.path.join(path, "*.db")):
            os.remove(name)


def child_exit(server, worker) -> None:  # type: ignore[no-untyped-def]
    """A worker that exits (a restart, a timeout) stops counting toward live gauges; its
    counters stay in the totals."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
