"""Structured logs: one JSON object per line, with the request id, the Celery task and the
customer a line concerns when known.

The context lives in a contextvar: ``ops.middleware.RequestContextMiddleware`` opens one per
request (``request_id``), the Celery ``task_prerun``/``task_postrun`` signals one per task
(``task_id``, ``task_name``), and ``bind(customer_id=...)`` adds to whichever is open.
``ContextFilter`` copies it onto each record; ``JsonFormatter`` writes the line. Imported by the
LOGGING setting, so it must not import models.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from collections.abc import Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType
from typing import Any

CONTEXT_FIELDS = ("request_id", "task_id", "task_name", "customer_id")
_context: ContextVar[Mapping[str, Any]] = ContextVar(
    "ops_log_context", default=MappingProxyType({})
)
# A client's request id is kept when it is this shape, else one is made.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,100}")


def current() -> dict[str, Any]:
    """The fields bound now (a copy)."""
    return dict(_context.get())


def bind(**fields: Any) -> None:
    """Add fields (e.g. ``customer_id``) to every log line of the current request or task.
    Outside either they last until the thread's context is replaced."""
    _context.set({**_context.get(), **fields})


def open_context(**fields: Any) -> Token[Mapping[str, Any]]:
    """Start a new context (a request, a task) on top of the current one; pass the token to
    ``close_context`` at its end."""
    return _context.set({**_context.get(), **fields})


def close_context(token: Token[Mapping[str, Any]]) -> None:
    _context.reset(token)


def request_id_from(value: str | None) -> str:
    """The client's ``X-Request-ID`` when sane (≤ 100 of ``[A-Za-z0-9._-]``), else a new one."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class ContextFilter(logging.Filter):
    """Copies the bound context onto each record (``record.request_id`` etc.); never drops."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        for name in CONTEXT_FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, context.get(name))
        return True


# gunicorn's access log passes its atoms as the record's args: these become fields.
_ACCESS_FIELDS = {
    "h": "remote_addr",
    "m": "method",
    "U": "path",
    "q": "query",
    "H": "protocol",
    "s": "status",
    "B": "bytes",
    "M": "duration_ms",
    "a": "user_agent",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id, and
    task_id, task_name, customer_id when known; exception text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        context = _context.get()
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is None:
                value = context.get(name)
            if value is not None or name == "request_id":
                line[name] = value
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            self._access(line, record.args)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)

    @staticmethod
    def _access(line: dict[str, Any], atoms: dict[str, Any]) -> None:
        for atom, field in _ACCESS_FIELDS.items():
            value = atoms.get(atom)
            if value not in (None, "-", ""):
                line[field] = (
                    int(value) if atom in ("s", "B", "M") and str(value).isdigit() else value
                )
        request_id = atoms.get("{x-request-id}o")
        if request_id and request_id != "-":
            line["request_id"] = request_id


# --- Celery ------------------------------------------------------------------------------------
_task_tokens: dict[str, Token[Mapping[str, Any]]] = {}


def _task_started(
    task_id: str | None = None, task: Any = None, kwargs: Any = None, **_: Any
) -> None:
    fields: dict[str, Any] = {"task_id": task_id, "task_name": getattr(task, "name", None)}
    customer_id = (kwargs or {}).get("customer_id") if isinstance(kwargs, dict) else None
    if customer_id is not None:
        fields["customer_id"] = customer_id
    if task_id:
        _task_tokens[task_id] = open_context(**fields)


def _task_finished(task_id: str | None = None, **_: Any) -> None:
    token = _task_tokens.pop(task_id, None) if task_id else None
    if token is not None:
        try:
            close_context(token)
        except ValueError:  # finished in another context than it started (never in practice)
            pass


def connect_celery_signals() -> None:
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_task_started, dispatch_uid="ops.logs.task_started", weak=False)
    task_postrun.connect(_task_finished, dispatch_uid="ops.logs.task_finished", weak=False)
