"""The one line format every benchmark prints its headline figures in, so ``bench/run.py`` (what
``make bench`` runs) can gather every figure of every benchmark into one summary:

    figure | <benchmark>: <what> | <value> | ratio <r> to <reference> | goal <goal>: ok

A ratio is always measured in the same run against a physical reference on the same machine
(raw COPY, a bare ``INSERT … SELECT``, a no-op Celery task, hand-written SQL, the first page…).
"""

from __future__ import annotations

PREFIX = "figure | "


def figure(
    name: str,
    value: str,
    *,
    ratio: float | None = None,
    reference: str = "",
    goal: str = "",
    met: bool | None = None,
) -> None:
    """Print one headline figure in the summary's format."""
    parts = [name, value]
    parts.append(f"ratio {ratio:.3g} to {reference}" if ratio is not None else "no ratio")
    if goal:
        parts.append(f"goal {goal}: " + ("ok" if met else "missed" if met is False else "—"))
    print(PREFIX + " | ".join(parts), flush=True)
