"""Operations: probes (/healthz, /readyz), Prometheus metrics (/metrics), structured logs.

Depends on every app (it reads their tables for the scrape-time gauges); no app imports it.
"""
