"""Demo and benchmark data: customers in Persian, Arabic, Azerbaijani and English.

``manage.py seed_demo`` calls into this package. The sample (default mode) tells its stories through
the real services (``identify``, ``resolve``, ``record_interaction``), so what the demo shows is
what the product does; the crowd around the stories and the bulk benchmark mode write rows directly
(``COPY`` on PostgreSQL, ``bulk_create`` elsewhere) with the same search text and identities the
services would have written. Every loader is idempotent: it looks for its marker first.

Addresses are safe to use in a demo: emails are on ``example.*`` domains (RFC 2606) and US numbers
are in the fictional 555-01xx range. Other phone numbers are well-formed and may exist; demo
messages go to the console backend unless someone configures a real one.

Split by concern; import from ``customers.demo``: ``names`` (people, phones), ``shop`` (sources,
products, messages), ``timeline`` (row templates), ``rows`` (planned customers, COPY writer),
``logins``, ``stories``, ``sample`` (default mode), ``bulk`` (benchmark mode).
"""

from customers.demo.bulk import (
    BULK_USER_ID_PREFIX,
    HOT_CUSTOMER_USER_ID,
    BulkReport,
    bulk_existing,
    hot_customer,
    load_bulk,
)
from customers.demo.logins import DEMO_LOGINS, DemoLogin, LoginResult, ensure_logins
from customers.demo.sample import (
    SAMPLE_MARKER,
    SAMPLE_SIZE,
    SampleReport,
    demo_counts,
    load_sample,
    sample_loaded,
)
from customers.demo.shop import DEMO_SOURCES, ensure_sources
from customers.demo.stories import (
    STORY_ANONYMOUS_THEN_APP,
    STORY_STORE_THEN_WEB,
    STORY_WEB_THEN_CALL,
    tell_stories,
)

__all__ = [
    "BULK_USER_ID_PREFIX",
    "DEMO_LOGINS",
    "DEMO_SOURCES",
    "HOT_CUSTOMER_USER_ID",
    "SAMPLE_MARKER",
    "SAMPLE_SIZE",
    "STORY_ANONYMOUS_THEN_APP",
    "STORY_STORE_THEN_WEB",
    "STORY_WEB_THEN_CALL",
    "BulkReport",
    "DemoLogin",
    "LoginResult",
    "SampleReport",
    "bulk_existing",
    "demo_counts",
    "ensure_logins",
    "ensure_sources",
    "hot_customer",
    "load_bulk",
    "load_sample",
    "sample_loaded",
    "tell_stories",
]
