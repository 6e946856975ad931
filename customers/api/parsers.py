"""JSON bodies of the APIs, read with limits: strict numbers, bounded nesting, and only text a
database can store."""

from __future__ import annotations

import json
import math
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Deeper than any real payload; deep enough nesting exhausts the stack of whoever walks it.
MAX_DEPTH = 32


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(body: bytes) -> Any:
    """Strict JSON from UTF-8 bytes (NaN, Infinity and numbers beyond float are refused);
    ValueError when it is not, also for nesting too deep for the parser."""
    try:
        return json.loads(
            body.decode("utf-8-sig"), parse_float=_finite, parse_constant=_no_constant
        )
    except RecursionError as error:
        raise ValueError("nested too deeply") from error


def json_problem(value: Any, *, max_depth: int = MAX_DEPTH, text: bool = True) -> str | None:
    """Why a parsed JSON value cannot be stored, or None: nesting deeper than ``max_depth``, or
    (with ``text``) a string or key holding NUL or an unpaired surrogate, which PostgreSQL
    refuses and UTF-8 cannot encode. Walks without recursion."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if text and _bad_text(node):
                return "It holds text with a NUL character or an unpaired surrogate."
            continue
        if not isinstance(node, dict | list):
            continue
        if depth > max_depth:
            return f"It is nested deeper than {max_depth} levels."
        if isinstance(node, dict):
            stack.extend((key, depth) for key in node)
            stack.extend((item, depth + 1) for item in node.values())
        else:
            stack.extend((item, depth + 1) for item in node)
    return None


def _bad_text(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, stricter: broken, too deep or unstorable JSON is a 400. (DRF reads
    ``request.body``, so DATA_UPLOAD_MAX_MEMORY_SIZE caps the size: a 413, errors.py.)"""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = loads(stream.read())
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from error
        if problem := json_problem(data):
            raise ParseError(problem)
        return data
