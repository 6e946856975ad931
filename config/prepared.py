"""Prepared statements for the reads where PostgreSQL's planning costs more than its work.

Django sends every query with client-side binding, so PostgreSQL parses and plans each one
anew. For most queries planning is a sliver of the time. For a customer's timeline page over the
monthly-partitioned interaction table it is most of it: ~1.2 ms to plan a Merge Append over ~40
partitions, ~0.3 ms to run it (docs/operations.md, "The timeline query is prepared").

A query run inside ``prepared(alias)`` is sent with server-side binding and prepared on its
connection at its first run; the app's connections give prepared statements a generic plan
(``plan_cache_mode=force_generic_plan``, config/settings.py), so every later run of the same
query on that connection, for any customer, skips planning. A partition created, attached or
detached invalidates the plan and PostgreSQL plans it again at the next run.

A generic plan is made for an average customer. With a literal ``LIMIT 51`` and an average of
a row or two per customer per month, PostgreSQL plans to read all the customer's rows and sort
them, which for a customer with 50,000 interactions is about 20 times slower than walking the
timeline index newest first. ``limit_as_parameter()`` sends the LIMIT as a parameter: not
knowing it, the planner costs reading a fraction of the rows, and keeps the index order
(a Merge Append of the partitions' index scans) whatever it thinks of the customer.

``DATABASE_PREPARED_STATEMENTS=0`` turns it off (a pooler that cannot keep prepared
statements); off, and on SQLite, the block changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import Model, QuerySet
from django.db.models.sql.compiler import SQLCompiler
from django.db.models.sql.query import Query

M = TypeVar("M", bound=Model)

logger = logging.getLogger(__name__)

# SQLSTATEs of a prepared statement that does not exist (26000) or whose name is taken (42P05).
LOST_STATEMENT = frozenset({"26000", "42P05"})


@contextmanager
def prepared(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Queries on ``using`` inside the block go as prepared statements (PostgreSQL only)."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not settings.DATABASE_PREPARED_STATEMENTS:
        yield
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    raw, features = connection.connection, connection.features
    kept = raw.cursor_factory, raw.prepare_threshold, features.uses_server_side_binding
    # Django's own cursors bind client-side and never prepare; a threshold of 0 prepares a
    # query at its first run (Django connects with None: nothing is ever prepared). The
    # feature flag makes the query log (connection.queries, CaptureQueriesContext) write
    # out the query with its values, as it does under server_side_binding.
    raw.cursor_factory, raw.prepare_threshold = ServerBindingCursor, 0
    features.uses_server_side_binding = True
    try:
        yield
    except DatabaseError as error:
        if getattr(error.__cause__, "sqlstate", None) in LOST_STATEMENT:
            # The statement psycopg prepared on this connection is gone or taken: a pooler
            # hands the connection's statements to other clients (PgBouncer in transaction
            # mode before 1.21, or without max_prepared_statements).
            logger.error(
                "prepared statements do not survive between queries on this database "
                "connection (a pooler in transaction mode?): set "
                "DATABASE_PREPARED_STATEMENTS=0 (docs/operations.md)"
            )
        raise
    finally:
        raw.cursor_factory, raw.prepare_threshold, features.uses_server_side_binding = kept


def limit_as_parameter(queryset: QuerySet[M]) -> QuerySet[M]:
    """The queryset, whose ``[:n]`` slice reaches the database as ``LIMIT %s`` with n as a
    parameter instead of written into the SQL (see the module docstring)."""
    clone = queryset.all()
    clone.query.__class__ = _LimitParameterQuery
    return clone


class _LimitParameter:
    """Mixed into the backend's SELECT compiler: ``LIMIT %s`` for a slice from the start."""

    query: Query

    def as_sql(self, with_limits: bool = True, with_col_aliases: bool = False) -> Any:
        query = self.query
        if not (with_limits and query.low_mark == 0 and query.high_mark is not None):
            return super().as_sql(with_limits, with_col_aliases)  # type: ignore[misc]
        sql, params = super().as_sql(  # type: ignore[misc]
            with_limits=False, with_col_aliases=with_col_aliases
        )
        return f"{sql} LIMIT %s", (*params, query.high_mark)


@cache
def _with_limit_parameter(compiler: type[SQLCompiler]) -> type[SQLCompiler]:
    return type(f"LimitParameter{compiler.__name__}", (_LimitParameter, compiler), {})


class _LimitParameterQuery(Query):
    def get_compiler(
        self, using: str | None = None, connection: Any = None, elide_empty: bool = True
    ) -> SQLCompiler:
        compiler = super().get_compiler(using, connection, elide_empty)
        if self.compiler == "SQLCompiler":  # a SELECT (not an UPDATE, DELETE or aggregate)
            compiler.__class__ = _with_limit_parameter(type(compiler))
        return compiler
